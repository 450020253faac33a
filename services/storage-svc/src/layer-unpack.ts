// Unpacks one layer blob (gzip, zstd or plain tar) into a directory, verifying its diffID. Owner: storage-svc.
// All-or-nothing: entries go into a temp dir beside the target, renamed into place only after
// the whole tar applied and its sha256 matched; any error removes the temp dir.
import { createHash, type Hash } from 'node:crypto';
import { constants as C } from 'node:fs';
import { mkdtemp, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CriusError, InternalError, InvalidArgumentError, ResourceExhaustedError } from '@crius/common';
import { NotSingleGzipMember, checkLayerMediaType, openDecompressed, type DecompressOptions, type Decompressed } from './decompress.js';
import { PathRuleError } from './entry-path.js';
import { LayerWriter } from './layer-writer.js';
import { commandOs, type StorageOs } from './os.js';
import { readTar } from './tar-reader.js';

export interface UnpackOptions {
  mediaType: string;
  /** `sha256:<hex>` of the uncompressed tar; a mismatch fails the unpack. */
  expectedDiffId?: string;
  /** Limit on the uncompressed tar (and so on any one entry), in bytes. */
  maxLayerBytes?: number;
  /** Limit on the number of entries (inode bombs). */
  maxEntries?: number;
  /** Create char/block device entries (default true); never when not running as root. */
  allowDevices?: boolean;
  os?: Pick<StorageOs, 'mknod' | 'setXattr'>;
  /** Names the blob in errors (default: its path, or the expected diffID). */
  label?: string;
  /** The blob is still being downloaded: read it as it grows, up to this many bytes. */
  growingSize?: number;
  /** With growingSize: how long the blob may stay without a new byte. */
  stallMs?: number;
}

export interface UnpackResult {
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  entries: number;
  /** Entries or xattrs skipped on purpose (aufs metadata, trusted.* xattrs). */
  dropped: string[];
}

export const DEFAULT_MAX_LAYER_BYTES = 64 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 2_000_000;

/**
 * Unpacks `blob` (a path, opened without following a final symlink, or an open handle)
 * into `target`, which must not exist yet.
 */
export async function unpackLayer(blob: string | FileHandle, target: string, opts: UnpackOptions): Promise<UnpackResult> {
  const label = opts.label ?? (typeof blob === 'string' ? blob : (opts.expectedDiffId ?? 'blob'));
  checkLayerMediaType(opts.mediaType);
  const fh = typeof blob === 'string' ? await openBlob(blob) : blob;
  try {
    try {
      return await unpackFrom(fh, target, opts, label, { skipGzipCrc: true });
    } catch (e) {
      // A gzip of several members (or with trailing bytes): decode it again with the full decoder.
      if (!((e as { cause?: unknown }).cause instanceof NotSingleGzipMember)) throw e;
      return await unpackFrom(fh, target, opts, label, { skipGzipCrc: false });
    }
  } finally {
    if (typeof blob === 'string') await fh.close();
  }
}

async function openBlob(path: string): Promise<FileHandle> {
  try {
    return await open(path, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (e) {
    throw new InvalidArgumentError(`layer blob ${path}: cannot open: ${(e as Error).message}`, { cause: e });
  }
}

async function unpackFrom(fh: FileHandle, target: string, opts: UnpackOptions, label: string, decode: DecompressOptions): Promise<UnpackResult> {
  const maxBytes = opts.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.unpack-`));
  const writer = new LayerWriter(tmp, {
    allowDevices: (opts.allowDevices ?? true) && process.getuid?.() === 0,
    os: opts.os ?? commandOs,
  });
  const hash = createHash('sha256');
  const counted = { bytes: 0 };
  let dec: Decompressed | undefined;
  let current: string | undefined;
  let entries = 0;
  try {
    dec = await openDecompressed(fh, `layer ${label}`, { ...decode, growingSize: opts.growingSize, stallMs: opts.stallMs });
    for await (const entry of readTar(measure(dec.stream, hash, counted, maxBytes), { maxEntryBytes: maxBytes })) {
      current = entry.header.name;
      if (++entries > maxEntries) throw new ResourceExhaustedError(`more than ${maxEntries} entries`);
      await writer.apply(entry);
      current = undefined;
    }
    await dec.done;
    const diffId = `sha256:${hash.digest('hex')}`;
    if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
      throw new InvalidArgumentError(`diffID mismatch: expected ${opts.expectedDiffId}, the uncompressed tar hashes to ${diffId}`);
    }
    await writer.finish();
    await rename(tmp, target);
    return { diffId, size: counted.bytes, entries, dropped: writer.dropped };
  } catch (e) {
    // A corrupt zstd frame shows up first as a malformed tar; zstd's own message is better.
    const tarFormat = e instanceof Error && e.message.startsWith('tar:');
    const decoderError = dec && tarFormat ? await settledError(dec.done, 2000) : undefined;
    dec?.abort();
    await rm(tmp, { recursive: true, force: true });
    throw describe(decoderError ?? e, label, current);
  }
}

async function* measure(src: AsyncIterable<Buffer>, hash: Hash, counted: { bytes: number }, max: number) {
  for await (const chunk of src) {
    counted.bytes += chunk.length;
    if (counted.bytes > max) throw new ResourceExhaustedError(`uncompressed size exceeds the limit of ${max} bytes`);
    hash.update(chunk);
    yield chunk;
  }
}

/** The rejection of `p` if it rejects within `ms`, else undefined. */
async function settledError(p: Promise<void>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  const result = await Promise.race([p.then(() => undefined, (e: unknown) => e), timeout]);
  clearTimeout(timer);
  return result;
}

/** Names the layer and entry in the error, keeping our error class (hostile input → InvalidArgument). */
function describe(e: unknown, label: string, entry: string | undefined): CriusError {
  const where = entry === undefined ? `layer ${label}` : `layer ${label}: entry "${entry}"`;
  const msg = e instanceof Error ? e.message : String(e);
  const text = msg.startsWith(`layer ${label}`) ? msg : `${where}: ${msg}`;
  if (e instanceof PathRuleError) return new InvalidArgumentError(`${where}: refused: ${msg}`, { cause: e });
  if (e instanceof CriusError) {
    const Ctor = e.constructor as new (m: string, o?: { cause?: unknown }) => CriusError;
    return new Ctor(text, { cause: e });
  }
  return new InternalError(text, { cause: e });
}
