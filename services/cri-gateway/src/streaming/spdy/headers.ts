// SPDY/3 header blocks: the name/value block format and its zlib stream, one
// compression context per connection direction as SPDY requires. Owned by the
// gateway's streaming server (spdy/frames.ts uses it for SYN_STREAM, SYN_REPLY
// and HEADERS frames).
import { constants, inflateRawSync } from 'node:zlib';
import { SPDY3_DICTIONARY, SPDY3_DICTIONARY_ID } from './dictionary.js';

/**
 * Header names (lower case) to values. A name with several values carries them
 * NUL-separated in one string, exactly as on the wire.
 */
export type SpdyHeaders = Record<string, string>;

/** A header block or zlib stream that cannot be decoded: a connection-level protocol error. */
export class HeaderBlockError extends Error {}

const WINDOW = 32 * 1024; // deflate's maximum back-reference distance
const MAX_STORED = 0xffff; // a stored deflate block holds at most 65535 bytes

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = Object.create(null) as SpdyHeaders;
  let off = 0;
  const take = (what: string): Buffer => {
    if (off + 4 > block.length) throw new HeaderBlockError(`header block truncated reading ${what} length`);
    const len = block.readUInt32BE(off);
    off += 4;
    if (off + len > block.length) throw new HeaderBlockError(`header block truncated reading ${what} (${len} bytes)`);
    const out = block.subarray(off, off + len);
    off += len;
    return out;
  };
  if (block.length < 4) throw new HeaderBlockError(`header block of ${block.length} bytes has no pair count`);
  const count = block.readUInt32BE(0);
  off = 4;
  // Each pair needs at least 8 bytes: refuse counts the block cannot hold.
  if (count > (block.length - 4) / 8) throw new HeaderBlockError(`header block claims ${count} pairs in ${block.length} bytes`);
  for (let i = 0; i < count; i++) {
    const name = take('name').toString('utf8').toLowerCase();
    if (name.length === 0) throw new HeaderBlockError('header block has an empty header name');
    const value = take('value').toString('utf8');
    headers[name] = name in headers ? `${headers[name]}\0${value}` : value;
  }
  return headers;
}

/** The values of one header (SPDY joins several with NUL). */
export function headerValues(value: string | undefined): string[] {
  return value === undefined ? [] : value.split('\0');
}

/**
 * Compresses the outgoing header blocks of one connection direction as one
 * zlib stream (header + DICTID first, then one deflate segment per block).
 * We deflate at level 0 — stored blocks — so frame encoding stays synchronous:
 * our blocks are a few bytes (SYN_REPLY is usually empty) and any zlib peer
 * inflates stored blocks like compressed ones.
 */
/** The empty non-final stored block a sync flush ends with. */
export const SYNC_FLUSH_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      parts.push(zlibHeaderWithDictionary());
      this.started = true;
    }
    let off = 0;
    do {
      const len = Math.min(MAX_STORED, block.length - off);
      // BFINAL=0, BTYPE=00 (stored), padded to the byte; then LEN and NLEN little-endian.
      const hdr = Buffer.alloc(5);
      hdr.writeUInt16LE(len, 1);
      hdr.writeUInt16LE(~len & 0xffff, 3);
      parts.push(hdr, block.subarray(off, off + len));
      off += len;
    } while (off < block.length);
    // End the block as zlib's Z_SYNC_FLUSH does, with an empty stored block:
    // a streaming reader (Go's compress/flate in kubectl, the kubelet,
    // containerd) only hands the block's bytes over when it sees it, and
    // otherwise waits for input that never comes in this frame.
    parts.push(SYNC_FLUSH_MARKER);
    return Buffer.concat(parts);
  }
}

/**
 * Inflates the incoming header blocks of one connection direction. A block may
 * refer back into earlier blocks (one zlib stream per direction), so we keep
 * the last 32 KiB of dictionary + output and inflate each block as a raw
 * deflate segment against it: synchronous, with the same result as one
 * long-lived inflate context.
 */
export class HeaderDecompressor {
  private window: Buffer = SPDY3_DICTIONARY;
  private started = false;

  constructor(private readonly maxBlockBytes = 256 * 1024) {}

  decompress(block: Buffer): Buffer {
    let raw = block;
    if (!this.started) {
      raw = stripZlibHeader(block);
      this.started = true;
    }
    let out: Buffer;
    try {
      out = inflateRawSync(raw, {
        dictionary: this.window,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.maxBlockBytes,
      });
    } catch (err) {
      throw new HeaderBlockError(`inflating a ${block.length}-byte header block: ${(err as Error).message}`, { cause: err });
    }
    const joined = Buffer.concat([this.window, out]);
    this.window = joined.subarray(Math.max(0, joined.length - WINDOW));
    return out;
  }
}

function zlibHeaderWithDictionary(): Buffer {
  // CMF 0x78: deflate with a 32 KiB window. FLG: FDICT set, FLEVEL 0, FCHECK
  // chosen as zlib does so that (CMF << 8 | FLG) is a multiple of 31.
  let hdr = (0x78 << 8) | 0x20;
  hdr += 31 - (hdr % 31);
  const buf = Buffer.alloc(6);
  buf.writeUInt16BE(hdr, 0);
  buf.writeUInt32BE(SPDY3_DICTIONARY_ID, 2);
  return buf;
}

function stripZlibHeader(block: Buffer): Buffer {
  if (block.length < 6) throw new HeaderBlockError(`first header block is ${block.length} bytes, too short for a zlib header`);
  const cmf = block[0]!;
  const flg = block[1]!;
  if ((cmf & 0x0f) !== 8 || ((cmf << 8) | flg) % 31 !== 0) {
    throw new HeaderBlockError(`first header block does not start a zlib stream (0x${block.subarray(0, 2).toString('hex')})`);
  }
  if ((flg & 0x20) === 0) throw new HeaderBlockError('header zlib stream does not use the SPDY/3 dictionary (FDICT unset)');
  const id = block.readUInt32BE(2);
  if (id !== SPDY3_DICTIONARY_ID) {
    throw new HeaderBlockError(`header zlib stream names dictionary 0x${id.toString(16)}, want SPDY/3's 0x${SPDY3_DICTIONARY_ID.toString(16)}`);
  }
  return block.subarray(6);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
