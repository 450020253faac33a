// HPACK (RFC 7541) for the CRI socket's header filter (h2/authority-filter.ts):
// a decoder that keeps the peer encoder's dynamic table, and an encoder that
// never touches the receiver's dynamic table (static references and literals
// without indexing only), so re-encoded blocks need no table of their own.
import { huffmanDecode } from './huffman.js';

/** How a field was represented on the wire (RFC 7541 §6). */
export type Representation = 'indexed' | 'incremental' | 'without' | 'never';

/** One header field; name and value hold octets as latin1 strings. */
export interface HeaderField {
  name: string;
  value: string;
  rep: Representation;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Dynamic table size updates at the block's start, in order. */
  tableSizeUpdates: number[];
}

/** The block breaks RFC 7541: a COMPRESSION_ERROR for the connection. */
export class HpackError extends Error {}

/** RFC 7541 Appendix A; index i is entry i + 1. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2). */
export const DEFAULT_TABLE_SIZE = 4096;
/** Per-entry overhead counted in the table size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

export interface DecoderOptions {
  /** The table size the encoder starts with. Default 4096. */
  maxSize?: number;
  /** The largest size an update may set (the receiver's SETTINGS_HEADER_TABLE_SIZE). Default 64 KiB. */
  limit?: number;
}

/** Decodes header blocks of one connection direction, in order. */
export class HpackDecoder {
  /** Dynamic table, newest first (dynamic index 1 = entries[0]). */
  private readonly entries: [string, string][] = [];
  private size = 0;
  private maxSize: number;
  private readonly limit: number;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;

  constructor(opts: DecoderOptions = {}) {
    this.limit = opts.limit ?? 64 * 1024;
    this.maxSize = opts.maxSize ?? DEFAULT_TABLE_SIZE;
  }

  /** The dynamic table, newest first, and its size in octets (RFC 7541 §4.1). */
  get table(): { entries: readonly (readonly [string, string])[]; size: number; maxSize: number } {
    return { entries: this.entries, size: this.size, maxSize: this.maxSize };
  }

  /** Decodes one complete header block. Throws HpackError; the decoder is unusable after that. */
  decode(block: Buffer): HeaderBlock {
    this.buf = block;
    this.pos = 0;
    this.end = block.length;
    const fields: HeaderField[] = [];
    const tableSizeUpdates: number[] = [];
    while (this.pos < this.end) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        const [name, value] = this.lookup(this.integer(7));
        fields.push({ name, value, rep: 'indexed' });
      } else if (b & 0x40) {
        const index = this.integer(6);
        const name = index === 0 ? this.string() : this.lookup(index)[0];
        const value = this.string();
        this.insert(name, value);
        fields.push({ name, value, rep: 'incremental' });
      } else if (b & 0x20) {
        if (fields.length > 0) throw new HpackError('dynamic table size update after a header field');
        const size = this.integer(5);
        if (size > this.limit) throw new HpackError(`dynamic table size update to ${size} exceeds the limit ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        tableSizeUpdates.push(size);
      } else {
        const index = this.integer(4);
        const name = index === 0 ? this.string() : this.lookup(index)[0];
        const value = this.string();
        fields.push({ name, value, rep: b & 0x10 ? 'never' : 'without' });
      }
    }
    this.buf = Buffer.alloc(0);
    return { fields, tableSizeUpdates };
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1). */
  private integer(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = this.buf[this.pos++]! & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= this.end) throw new HpackError('header block ends inside an integer');
      if (shift > 28) throw new HpackError('integer too large');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  }

  /** A string literal, raw or Huffman-coded (RFC 7541 §5.2). */
  private string(): string {
    if (this.pos >= this.end) throw new HpackError('header block ends before a string');
    const huffman = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.integer(7);
    const start = this.pos;
    if (len > this.end - start) throw new HpackError(`string of ${len} octets runs past the header block`);
    this.pos += len;
    if (!huffman) return this.buf.toString('latin1', start, start + len);
    try {
      return huffmanDecode(this.buf, start, start + len);
    } catch (err) {
      throw new HpackError((err as Error).message, { cause: err });
    }
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0 is not a table entry');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.entries[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`index ${index} is past the dynamic table (${this.entries.length} entries)`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (§4.4).
    if (size > this.maxSize) return;
    this.entries.unshift([name, value]);
    this.size += size;
  }

  /** Evicts oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.entries.length > 0) {
      const [name, value] = this.entries.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_EXACT.has(`${name}\0${value}`)) STATIC_EXACT.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

/**
 * Encodes fields without touching the receiver's dynamic table: a static
 * entry by index when name and value match, otherwise a literal without
 * indexing (never-indexed fields stay never-indexed), strings raw. Size
 * updates, if any, go first, as RFC 7541 §4.2 requires.
 */
export function encodeWithoutIndexing(fields: readonly HeaderField[], tableSizeUpdates: readonly number[] = []): Buffer {
  let most = tableSizeUpdates.length * 6;
  for (const f of fields) most += f.name.length + f.value.length + 20;
  const out = Buffer.allocUnsafe(most);
  let pos = 0;
  for (const size of tableSizeUpdates) pos = writeInteger(out, pos, size, 5, 0x20);
  for (const f of fields) {
    if (f.rep !== 'never') {
      const exact = STATIC_EXACT.get(`${f.name}\0${f.value}`);
      if (exact !== undefined) {
        pos = writeInteger(out, pos, exact, 7, 0x80);
        continue;
      }
    }
    const flags = f.rep === 'never' ? 0x10 : 0x00;
    const nameIndex = STATIC_NAME.get(f.name);
    if (nameIndex !== undefined) pos = writeInteger(out, pos, nameIndex, 4, flags);
    else {
      out[pos++] = flags;
      pos = writeRawString(out, pos, f.name);
    }
    pos = writeRawString(out, pos, f.value);
  }
  return out.subarray(0, pos);
}

/** Writes an integer with an N-bit prefix after `flags` (RFC 7541 §5.1); returns the next position. */
export function writeInteger(out: Buffer, pos: number, value: number, prefixBits: number, flags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | max;
  value -= max;
  while (value >= 0x80) {
    out[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[pos++] = value;
  return pos;
}

function writeRawString(out: Buffer, pos: number, s: string): number {
  pos = writeInteger(out, pos, s.length, 7, 0x00);
  return pos + out.write(s, pos, 'latin1');
}
