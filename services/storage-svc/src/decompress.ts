// Opens a layer blob as its uncompressed tar stream: gzip, zstd or plain. Owner: storage-svc.
// The format is detected from the blob's magic bytes (what the bytes are beats what a
// manifest says); the media type is only checked to be a layer type we know.
import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError } from '@crius/common';

export type Compression = 'gzip' | 'zstd' | 'none';

const LAYER_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** Refuses media types that are not layer tars (configs, encrypted layers, artifacts). */
export function checkLayerMediaType(mediaType: string): void {
  if (!LAYER_MEDIA_TYPES.has(mediaType)) {
    throw new InvalidArgumentError(`unsupported layer media type ${JSON.stringify(mediaType)}`);
  }
}

/** Compression from the first bytes of a blob. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

export interface Decompressed {
  stream: AsyncIterable<Buffer>;
  /** Settles after the stream was consumed; rejects if the decoder failed (zstd exit status). */
  done: Promise<void>;
  /** Stops the decoder early (on an unpack error). */
  abort(): void;
}

/** Streams the uncompressed bytes of the blob open in `fh`. */
export async function openDecompressed(fh: FileHandle, what: string): Promise<Decompressed> {
  const head = Buffer.alloc(4);
  const { bytesRead } = await fh.read(head, 0, 4, 0);
  const kind = detectCompression(head.subarray(0, bytesRead));
  const file = fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 });
  if (kind === 'none') return { stream: file, done: Promise.resolve(), abort: () => file.destroy() };
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    file.on('error', (e) => gunzip.destroy(e));
    file.pipe(gunzip);
    return { stream: gunzip, done: Promise.resolve(), abort: () => (file.destroy(), gunzip.destroy()) };
  }
  return zstdStream(file, what);
}

/**
 * zstd through the reference `zstd` CLI (Debian package zstd): native speed, streaming with
 * pipe back-pressure, bounded window memory; Node 20's zlib has no zstd.
 */
function zstdStream(file: Readable, what: string): Decompressed {
  // 128 MiB is the decoder's default window limit; layers built with --long=31 are refused with zstd's message.
  const child = spawn('zstd', ['-d', '-c', '-q', '--no-progress', '--memory=128MB'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  file.on('error', (e) => child.stdout.destroy(e));
  child.stdin.on('error', () => {}); // EPIPE when zstd stops early; its exit status reports the cause
  file.pipe(child.stdin);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new InvalidArgumentError(`${what}: cannot run zstd: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new InvalidArgumentError(`${what}: zstd decompression failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
  done.catch(() => {}); // observed by the caller; avoid an unhandled rejection when aborted first
  return {
    stream: child.stdout,
    done,
    abort: () => {
      file.destroy();
      child.kill('SIGKILL');
    },
  };
}
