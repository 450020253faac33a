// Opens a layer blob as its uncompressed tar stream: gzip, zstd or plain. Owner: storage-svc.
// The format is detected from the blob's magic bytes (what the bytes are beats what a
// manifest says); the media type is only checked to be a layer type we know.
import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
import { InvalidArgumentError, UnavailableError } from '@crius/common';

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
  /** The blob is still being written: read it as it grows, up to this many bytes. */
  growingSize?: number;
  /** How long a growing blob may stay without a new byte before the unpack fails (default 10 s: the caller then hands over the stored blob). */
  stallMs?: number;
}

const READ_CHUNK = 1 << 20;
const INFLATE_CHUNK = 1 << 18;
const DEFAULT_STALL_MS = 10_000;
const CATCH_UP_WAIT_MS = 5;
/** Enough for the fixed gzip header plus a file name or comment of usual length. */
const GZIP_HEADER_PROBE = 4096;

/** `done` of a CRC-free gzip decode when the blob was not one gzip member (decode it again in full). */
export class NotSingleGzipMember extends Error {}

/** Streams the uncompressed bytes of the blob open in `fh`. */
export async function openDecompressed(fh: FileHandle, what: string, opts: DecompressOptions = {}): Promise<Decompressed> {
  const growing = opts.growingSize !== undefined ? { size: opts.growingSize, stallMs: opts.stallMs ?? DEFAULT_STALL_MS } : undefined;
  const source = (start: number): Readable =>
    growing ? Readable.from(readGrowing(fh, start, growing.size, growing.stallMs), { objectMode: false }) : fh.createReadStream({ start, autoClose: false, highWaterMark: READ_CHUNK });
  const head = growing
    ? await readGrowingPrefix(fh, Math.min(GZIP_HEADER_PROBE, growing.size), growing.stallMs)
    : await readPrefix(fh, GZIP_HEADER_PROBE);
  const kind = detectCompression(head);
  if (kind === 'gzip' && (opts.skipGzipCrc ?? true)) {
    const headerLength = gzipHeaderLength(head);
    if (headerLength !== undefined) return rawDeflateStream(source(headerLength), headerLength, growing?.size ?? (await fh.stat()).size);
  }
  const file = source(0);
  if (kind === 'none') return { stream: file, done: Promise.resolve(), abort: () => file.destroy() };
  if (kind === 'gzip') {
    const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
    file.on('error', (e) => gunzip.destroy(e));
    file.pipe(gunzip);
    return { stream: gunzip, done: Promise.resolve(), abort: () => (file.destroy(), gunzip.destroy()) };
  }
  return zstdStream(file, what);
}


async function readPrefix(fh: FileHandle, n: number): Promise<Buffer> {
  const head = Buffer.alloc(n);
  const { bytesRead } = await fh.read(head, 0, n, 0);
  return head.subarray(0, bytesRead);
}

/** The first `n` bytes of a growing blob, waiting for them. */
async function readGrowingPrefix(fh: FileHandle, n: number, stallMs: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readGrowing(fh, 0, n, stallMs)) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * The bytes of a blob still being written, from `start` until it holds `size` bytes:
 * reads what is there, and waits (polling, backing off to 25 ms) while the writer is
 * behind. Fails when the file is deleted (the download was abandoned) or stays without
 * a new byte for `stallMs`. A file that shrinks (a download restarted from its first
 * byte) is waited for as it grows again; the diffID check catches any content that
 * differs from what was read before.
 */
async function* readGrowing(fh: FileHandle, start: number, size: number, stallMs: number): AsyncGenerator<Buffer> {
  let pos = start;
  let idle = 0;
  let delay = 1;
  // One read buffer, replaced only when it is handed on: a reader that catches up with the
  // download reads little or nothing at a time, and a fresh MiB per read made external
  // memory churn (and major GCs) many times the blob's size.
  let buf: Buffer | undefined;
  while (pos < size) {
    buf ??= Buffer.allocUnsafe(READ_CHUNK);
    const want = Math.min(buf.length, size - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead > 0) {
      pos += bytesRead;
      idle = 0;
      delay = 1;
      if (bytesRead >= buf.length >> 2) {
        const full = buf.subarray(0, bytesRead);
        buf = undefined;
        yield full;
      } else {
        yield Buffer.from(buf.subarray(0, bytesRead)); // a small copy; the buffer stays for the next read
        // Caught up with the writer: let it get ahead before reading again, so reads stay
        // large (each one is a thread-pool round trip) at the cost of a few ms at the end.
        if (pos < size) await new Promise((r) => setTimeout(r, CATCH_UP_WAIT_MS));
      }
      continue;
    }
    if ((await fh.stat()).nlink === 0) throw new UnavailableError(`blob was deleted at ${pos} of ${size} bytes (its download was abandoned)`);
    if (idle >= stallMs) throw new UnavailableError(`blob stopped growing at ${pos} of ${size} bytes for ${stallMs} ms`);
    await new Promise((r) => setTimeout(r, delay));
    idle += delay;
    delay = Math.min(delay * 2, 25);
  }
}
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
function rawDeflateStream(file: Readable, headerLength: number, size: number): Decompressed {
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
