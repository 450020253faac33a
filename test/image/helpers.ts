// Shared setup for image-svc integration tests: an ImageService in a temp
// root with the recording unpacker and fast retries, plus cleanup.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageService, type ImageServiceOptions } from '../../services/image-svc/src/image-service.js';
import type { PullProgress } from '../../services/image-svc/src/pull.js';
import { RecordingUnpacker } from '../fixtures/recording-unpacker.js';

export interface TestService {
  service: ImageService;
  unpacker: RecordingUnpacker;
  root: string;
  progress: PullProgress[];
  /** Blob digests in the content store. */
  blobs(): Promise<string[]>;
  /** Files left in the ingest dir (partial downloads). */
  partials(): Promise<string[]>;
  close(): Promise<void>;
}

export const FAST_RETRY = { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 };

export async function newService(options: Partial<ImageServiceOptions> = {}): Promise<TestService> {
  const root = await mkdtemp(join(tmpdir(), 'crius-image-'));
  const unpacker = new RecordingUnpacker();
  const progress: PullProgress[] = [];
  const service = new ImageService({
    root,
    unpacker,
    retry: FAST_RETRY,
    platform: { os: 'linux', architecture: 'amd64' },
    onProgress: (e) => progress.push(e),
    ...options,
  });
  await service.init();
  return {
    service,
    unpacker,
    root,
    progress,
    blobs: async () => (await readdir(join(root, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort(),
    partials: () => readdir(join(root, 'ingest')),
    close: async () => {
      await service.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
