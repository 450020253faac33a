// Opens a layer blob as its uncompressed tar stream: gzip, zstd or plain. Owner: storage-svc.
// The format is detected from the blob's magic bytes (what the bytes are beats what a
// manifest says); the media type is only checked to be a layer type we know.
import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
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

export interface DecompressOptions {
  /**
   * Decode gzip without its CRC-32 (default true). The blob's sha256 was verified when it
   * was stored and the tar's sha256 is checked against the diffID, so the CRC adds nothing
   * but CPU. Only a single-member gzip is decoded this way; anything else fails `done` with
   * NotSingleGzipMember and is decoded again with the full gzip decoder.
   */
  skipGzipCrc?: boolean;
}

/** `done` of a CRC-free gzip decode when the blob was not one gzip member (decode it again in full). */
export class NotSingleGzipMember extends Error {}

/** Streams the uncompressed bytes of the blob open in `fh`. */
export async function openDecompressed(fh: FileHandle, what: string, opts: DecompressOptions = {}): Promise<Decompressed> {
  const head = Buffer.alloc(GZIP_HEADER_PROBE);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const kind = detectCompression(head.subarray(0, bytesRead));
  if (kind === 'gzip' && (opts.skipGzipCrc ?? true)) {
    const headerLength = gzipHeaderLength(head.subarray(0, bytesRead));
    if (headerLength !== undefined) return rawDeflateStream(fh, headerLength);
  }
  const file = fh.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK });
  if (kind === 'none') return { stream: file, done: Promise.resolve(), abort: () => file.destroy() };
  if (kind === 'gzip') {
    const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
    file.on('error', (e) => gunzip.destroy(e));
    file.pipe(gunzip);
    return { stream: gunzip, done: Promise.resolve(), abort: () => (file.destroy(), gunzip.destroy()) };
  }
  return zstdStream(file, what);
}

const READ_CHUNK = 1 << 20;
const INFLATE_CHUNK = 1 << 18;
/** Enough for the fixed gzip header plus a file name or comment of usual length. */
const GZIP_HEADER_PROBE = 4096;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/**
 * Length of the gzip member header (RFC 1952) at the start of `b`, or undefined when it is
 * not a plain deflate member whose header fits in `b` (then the full decoder handles it).
 */
export function gzipHeaderLength(b: Buffer): number | undefined {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) return undefined;
  const flags = b[3]!;
  if (flags & 0xe0) return undefined; // reserved bits: let zlib refuse it
  let at = 10;
  if (flags & FEXTRA) {
    if (at + 2 > b.length) return undefined;
    at += 2 + b.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const end = b.indexOf(0, at);
    if (end < 0) return undefined;
    at = end + 1;
  }
  if (flags & FHCRC) at += 2;
  return at <= b.length ? at : undefined;
}

/**
 * The deflate data of a single-member gzip, inflated raw (no CRC). After the deflate stream
 * ends, exactly the 8-byte trailer must remain; otherwise (more members, trailing bytes)
 * `done` rejects with NotSingleGzipMember.
 */
async function rawDeflateStream(fh: FileHandle, headerLength: number): Promise<Decompressed> {
  const { size } = await fh.stat();
  const file = fh.createReadStream({ start: headerLength, autoClose: false, highWaterMark: READ_CHUNK });
  const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK });
  file.on('error', (e) => inflate.destroy(e));
  file.pipe(inflate);
  const done = new Promise<void>((resolve, reject) => {
    inflate.on('end', () => {
      if (headerLength + inflate.bytesWritten + 8 === size) resolve();
      else reject(new NotSingleGzipMember('gzip blob is not a single member'));
    });
    inflate.on('error', () => resolve()); // the stream's consumer sees zlib's own error
  });
  done.catch(() => {}); // observed by the caller; avoid an unhandled rejection when it stops first
  // Stopping must not close `fh` (destroying a read stream closes its handle): the caller
  // may decode the blob again from it, and closes it itself.
  const abort = () => {
    file.unpipe(inflate);
    file.pause();
    inflate.destroy();
  };
  return { stream: inflate, done, abort };
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
