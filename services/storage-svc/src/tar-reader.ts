// Strict streaming reader for layer tars (ustar, PAX, GNU long names). Owner: storage-svc.
// Our own parser rather than tar-stream because PAX values must stay raw bytes
// (binary xattrs such as security.capability) and sizes must be checked before any read.
import { InvalidArgumentError, ResourceExhaustedError } from '@crius/common';
import { ByteReader } from './byte-reader.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number; // seconds since the epoch, may be fractional (PAX)
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** xattrs from PAX `SCHILY.xattr.<name>` records, values as raw bytes. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's data; whatever the consumer leaves unread is skipped. */
  body(): AsyncGenerator<Buffer>;
}

export interface TarLimits {
  /** Largest size one entry may declare. */
  maxEntryBytes: number;
  /** Largest PAX header or GNU long name accepted (they are buffered whole). */
  maxMetaBytes?: number;
}

const BLOCK = 512;
const DEFAULT_MAX_META = 1 << 20;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink',
  '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

/** Yields each entry of the tar read from `source`; rejects malformed or oversized input. */
export async function* readTar(source: AsyncIterable<Buffer>, limits: TarLimits): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  const maxMeta = limits.maxMetaBytes ?? DEFAULT_MAX_META;
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await r.readExact(BLOCK);
    // A stream that stops on a block boundary without the zero blocks is accepted, as GNU tar does.
    if (block === null || isZero(block)) {
      await r.drain(); // the diffID covers every byte, including the end padding
      return;
    }
    const raw = parseHeaderBlock(block);
    if (raw.typeflag === 'x' || raw.typeflag === 'g' || raw.typeflag === 'L' || raw.typeflag === 'K') {
      if (raw.size > maxMeta) throw new ResourceExhaustedError(`tar: ${raw.typeflag} header of ${raw.size} bytes exceeds ${maxMeta}`);
      const data = (await r.readExact(raw.size, true)) ?? Buffer.alloc(0);
      await r.skip(padding(raw.size));
      if (raw.typeflag === 'x') pax = parsePax(data);
      else if (raw.typeflag === 'L') longName = cString(data, 'GNU long name');
      else if (raw.typeflag === 'K') longLink = cString(data, 'GNU long link');
      // Global PAX headers ('g') carry defaults for later entries; layer tools do not emit
      // them for anything we apply, so they are read and ignored.
      continue;
    }
    const header = buildHeader(raw, pax, longName, longLink);
    pax = longName = longLink = undefined;
    if (header.size > limits.maxEntryBytes) {
      throw new ResourceExhaustedError(`tar entry "${header.name}" declares ${header.size} bytes, above the limit of ${limits.maxEntryBytes}`);
    }
    let left = header.type === 'file' ? header.size : 0;
    const dataSize = left;
    yield {
      header,
      async *body() {
        for await (const chunk of r.take(left)) {
          left -= chunk.length;
          yield chunk;
        }
      },
    };
    await r.skip(left);
    await r.skip(padding(dataSize));
  }
}

interface RawHeader {
  name: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: string; linkname: string; devMajor: number; devMinor: number;
}

/** Parses one 512-byte header block; exported for unit tests. */
export function parseHeaderBlock(b: Buffer): RawHeader {
  const stored = parseNumber(b, 148, 8, 'checksum');
  if (stored !== checksum(b)) throw new InvalidArgumentError(`tar: header checksum mismatch (not a tar stream, or corrupt)`);
  const ustar = b.subarray(257, 263).toString('latin1') === 'ustar\0';
  let name = text(b, 0, 100, 'name');
  if (ustar && b[345] !== 0) name = `${text(b, 345, 155, 'prefix')}/${name}`;
  let typeflag = String.fromCharCode(b[156]!);
  // Pre-POSIX tars mark directories only by a trailing slash.
  if ((typeflag === '0' || typeflag === '\0') && name.endsWith('/')) typeflag = '5';
  return {
    name,
    mode: parseNumber(b, 100, 8, 'mode'),
    uid: parseNumber(b, 108, 8, 'uid'),
    gid: parseNumber(b, 116, 8, 'gid'),
    size: parseNumber(b, 124, 12, 'size'),
    mtime: parseNumber(b, 136, 12, 'mtime'),
    typeflag,
    linkname: text(b, 157, 100, 'linkname'),
    devMajor: parseNumber(b, 329, 8, 'devmajor'),
    devMinor: parseNumber(b, 337, 8, 'devminor'),
  };
}

function buildHeader(raw: RawHeader, pax: Map<string, Buffer> | undefined, longName?: string, longLink?: string): TarHeader {
  const name = paxText(pax, 'path') ?? longName ?? raw.name;
  const type = TYPES[raw.typeflag];
  if (!type) throw new InvalidArgumentError(`tar entry "${name}": unsupported type flag ${JSON.stringify(raw.typeflag)}`);
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax ?? []) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
  return {
    name,
    type,
    size: paxInt(pax, 'size', name) ?? raw.size,
    mode: raw.mode & 0o7777,
    uid: paxInt(pax, 'uid', name) ?? raw.uid,
    gid: paxInt(pax, 'gid', name) ?? raw.gid,
    mtime: paxFloat(pax, 'mtime', name) ?? raw.mtime,
    linkname: paxText(pax, 'linkpath') ?? longLink ?? raw.linkname,
    devMajor: raw.devMajor,
    devMinor: raw.devMinor,
    xattrs,
  };
}

/** Parses PAX records `<len> <key>=<value>\n`, keeping values as bytes; exported for tests. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, off);
    const len = sp > off ? Number(data.subarray(off, sp).toString('latin1')) : NaN;
    if (!Number.isInteger(len) || len <= sp - off + 1 || off + len > data.length || data[off + len - 1] !== 0x0a) {
      throw new InvalidArgumentError(`tar: malformed PAX record at offset ${off}`);
    }
    const rec = data.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new InvalidArgumentError(`tar: PAX record without key at offset ${off}`);
    out.set(decode(rec.subarray(0, eq), 'PAX key'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/** Octal (NUL/space padded) or GNU base-256 numeric field. */
function parseNumber(b: Buffer, off: number, len: number, field: string): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    if (f[0]! & 0x40) throw new InvalidArgumentError(`tar: negative ${field} field`);
    let v = BigInt(f[0]! & 0x3f);
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`tar: ${field} field ${v} is out of range`);
    return Number(v);
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new InvalidArgumentError(`tar: ${field} field ${JSON.stringify(s)} is not octal`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new InvalidArgumentError(`tar: ${field} field is out of range`);
  return v;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum;
}

function text(b: Buffer, off: number, len: number, field: string): string {
  const f = b.subarray(off, off + len);
  const end = f.indexOf(0);
  return decode(end === -1 ? f : f.subarray(0, end), field);
}

function cString(data: Buffer, what: string): string {
  const end = data.indexOf(0);
  return decode(end === -1 ? data : data.subarray(0, end), what);
}

function decode(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    // Non-UTF-8 names would need Buffer paths everywhere; no layer tool we know emits them.
    throw new InvalidArgumentError(`tar: ${what} is not valid UTF-8: ${Buffer.from(bytes).toString('hex')}`, { cause });
  }
}

function paxText(pax: Map<string, Buffer> | undefined, key: string): string | undefined {
  const v = pax?.get(key);
  return v === undefined ? undefined : decode(v, `PAX ${key}`);
}

function paxInt(pax: Map<string, Buffer> | undefined, key: string, entry: string): number | undefined {
  const s = paxText(pax, key);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(v)) throw new InvalidArgumentError(`tar entry "${entry}": bad PAX ${key} ${JSON.stringify(s)}`);
  return v;
}

function paxFloat(pax: Map<string, Buffer> | undefined, key: string, entry: string): number | undefined {
  const s = paxText(pax, key);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!/^-?\d+(\.\d+)?$/.test(s) || !Number.isFinite(v)) throw new InvalidArgumentError(`tar entry "${entry}": bad PAX ${key} ${JSON.stringify(s)}`);
  return v;
}

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
