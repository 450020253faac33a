// Durable image records keyed by image ID (= config digest): names, digests,
// layers and the runtime-relevant config. One versioned JSON file, rewritten
// atomically (temp + fsync + rename); memory changes only after the write.
// Owner: image-svc. Recovery: a record that fails validation is skipped and
// reported through onWarning, never blocks start.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError, InvalidArgumentError, writeJsonAtomic } from '@crius/common';
import { isSha256Digest } from './digest.js';
import type { Platform } from './platform.js';

export const INDEX_VERSION = 1;
const INDEX_FILE = 'images.json';
const MIN_PREFIX = 4;

export interface LayerRecord {
  digest: string;
  diffId: string;
  mediaType: string;
  size: number;
}

/** The image config fields runtime-svc needs to build a container. */
export interface ImageConfigSummary {
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  exposedPorts: string[];
  stopSignal: string;
  labels: Record<string, string>;
  volumes: string[];
}

export interface ImageRecord {
  /** `sha256:<config digest>` */
  id: string;
  /** Fully-qualified `registry/repo:tag`. */
  repoTags: string[];
  /** Fully-qualified `registry/repo@sha256:…` of what the tag pointed to (index or manifest). */
  repoDigests: string[];
  /** Bytes of manifest, config and compressed layers. */
  size: number;
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest?: string;
  configMediaType: string;
  platform: Platform;
  layers: LayerRecord[];
  config: ImageConfigSummary;
  /** Annotations of the image manifest. */
  annotations: Record<string, string>;
  pinned: boolean;
  /** ISO time of the first pull. */
  createdAt: string;
}

interface IndexFile {
  version: number;
  images: ImageRecord[];
}

function validRecord(value: unknown): value is ImageRecord {
  const r = value as ImageRecord;
  return (
    typeof r === 'object' && r !== null && isSha256Digest(r.id) && Array.isArray(r.repoTags) && Array.isArray(r.repoDigests) &&
    Array.isArray(r.layers) && r.layers.every((l) => isSha256Digest(l.digest) && isSha256Digest(l.diffId)) &&
    isSha256Digest(r.manifestDigest) && typeof r.config === 'object' && r.config !== null
  );
}

export class ImageIndex {
  private images = new Map<string, ImageRecord>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly file: string;

  constructor(
    readonly dir: string,
    private readonly onWarning: (message: string) => void = () => {},
  ) {
    this.file = join(dir, INDEX_FILE);
  }

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const parsed = JSON.parse(text) as IndexFile;
    if (parsed.version !== INDEX_VERSION) {
      throw new InternalError(`image index ${this.file}: version ${parsed.version} is not the supported ${INDEX_VERSION}`);
    }
    const images = new Map<string, ImageRecord>();
    for (const [i, record] of (parsed.images ?? []).entries()) {
      if (validRecord(record)) images.set(record.id, record);
      else this.onWarning(`image index ${this.file}: skipping invalid record #${i}`);
    }
    this.images = images;
  }

  all(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  byTag(fullTag: string): ImageRecord | undefined {
    return this.all().find((r) => r.repoTags.includes(fullTag));
  }

  byRepoDigest(fullDigestRef: string): ImageRecord | undefined {
    return this.all().find((r) => r.repoDigests.includes(fullDigestRef));
  }

  /** `sha256:<hex>`, `<hex>` or a unique hex prefix of at least 4 characters. */
  byIdOrPrefix(input: string): ImageRecord | undefined {
    const hex = input.startsWith('sha256:') ? input.slice(7) : input;
    if (!/^[a-f0-9]+$/.test(hex) || hex.length < MIN_PREFIX) return undefined;
    if (hex.length === 64) return this.images.get(`sha256:${hex}`);
    const matches = this.all().filter((r) => r.id.startsWith(`sha256:${hex}`));
    if (matches.length > 1) throw new InvalidArgumentError(`image ID prefix ${input} is ambiguous (${matches.length} images)`);
    return matches[0];
  }

  /** Adds or merges a record; its tags are taken away from any other image. */
  put(record: ImageRecord): Promise<ImageRecord> {
    return this.update((images) => {
      for (const other of images.values()) {
        if (other.id === record.id) continue;
        const kept = other.repoTags.filter((t) => !record.repoTags.includes(t));
        if (kept.length !== other.repoTags.length) images.set(other.id, { ...other, repoTags: kept });
      }
      const existing = images.get(record.id);
      const merged = existing
        ? {
            ...record,
            repoTags: union(existing.repoTags, record.repoTags),
            repoDigests: union(existing.repoDigests, record.repoDigests),
            pinned: existing.pinned || record.pinned,
            createdAt: existing.createdAt,
          }
        : record;
      images.set(record.id, merged);
      return merged;
    });
  }

  remove(id: string): Promise<boolean> {
    return this.update((images) => images.delete(id));
  }

  setPinned(id: string, pinned: boolean): Promise<void> {
    return this.update((images) => {
      const record = images.get(id);
      if (record) images.set(id, { ...record, pinned });
    });
  }

  /** Serialised read-modify-write: persists a modified copy, then swaps it in. */
  private update<T>(mutate: (images: Map<string, ImageRecord>) => T): Promise<T> {
    const run = async () => {
      const next = new Map(this.images);
      const result = mutate(next);
      await this.write(next);
      this.images = next;
      return result;
    };
    const task = this.queue.then(run, run);
    this.queue = task.catch(() => undefined);
    return task;
  }

  private async write(images: Map<string, ImageRecord>): Promise<void> {
    const body: IndexFile = { version: INDEX_VERSION, images: [...images.values()] };
    try {
      await writeJsonAtomic(this.file, body);
    } catch (err) {
      throw new InternalError(`image index ${this.file}: write failed`, { cause: err });
    }
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
