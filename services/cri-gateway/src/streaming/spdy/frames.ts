// SPDY/3.1 framing: encode and parse every frame type the Kubernetes stream
// protocols use, with header blocks through the per-direction zlib context.
// Owned by the gateway's streaming server; spdy/connection.ts and the test
// client sit on top. Wire layout: SPDY draft 3.1, section 2.
import {
  HeaderBlockError,
  HeaderCompressor,
  HeaderDecompressor,
  decodeHeaderBlock,
  encodeHeaderBlock,
  type SpdyHeaders,
} from './headers.js';

export { HeaderBlockError, headerValues, type SpdyHeaders } from './headers.js';

export const SPDY_VERSION = 3;
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a frame's 24-bit length can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR = 0x01;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

export const SettingsId = {
  UPLOAD_BANDWIDTH: 1,
  DOWNLOAD_BANDWIDTH: 2,
  ROUND_TRIP_TIME: 3,
  MAX_CONCURRENT_STREAMS: 4,
  CURRENT_CWND: 5,
  DOWNLOAD_RETRANS_RATE: 6,
  INITIAL_WINDOW_SIZE: 7,
  CLIENT_CERTIFICATE_VECTOR_SIZE: 8,
} as const;

export interface SettingsEntry {
  id: number;
  value: number;
  /** FLAG_SETTINGS_PERSIST_VALUE (1) / FLAG_SETTINGS_PERSISTED (2). */
  flags?: number;
}

export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedToStreamId: number;
      priority: number;
      slot: number;
      fin: boolean;
      unidirectional: boolean;
      headers: SpdyHeaders;
      /** The version field of the frame (3 for SPDY/3); parsed frames only. */
      version?: number;
    }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: SettingsEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame type SPDY/3 does not define: receivers must ignore it. */
  | { type: 'unknown'; frameType: number; flags: number; payload: Buffer };

/** A malformed frame: the connection must be torn down (GOAWAY PROTOCOL_ERROR). */
export class FrameError extends Error {}

const ID_MASK = 0x7fffffff;

/** Encodes frames for one direction of a connection (it owns that direction's zlib context). */
export class FrameEncoder {
  private readonly compressor = new HeaderCompressor();

  encode(frame: Frame): Buffer {
    switch (frame.type) {
      case 'data':
        return Buffer.concat([dataFrameHeader(frame.streamId, frame.data.length, frame.fin), frame.data]);
      case 'syn_stream': {
        const fixed = Buffer.alloc(10);
        fixed.writeUInt32BE(frame.streamId & ID_MASK, 0);
        fixed.writeUInt32BE(frame.associatedToStreamId & ID_MASK, 4);
        fixed[8] = (frame.priority & 0x07) << 5;
        fixed[9] = frame.slot & 0xff;
        const flags = (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
        return control(FrameType.SYN_STREAM, flags, fixed, this.block(frame.headers));
      }
      case 'syn_reply':
        return control(FrameType.SYN_REPLY, frame.fin ? FLAG_FIN : 0, id32(frame.streamId), this.block(frame.headers));
      case 'headers':
        return control(FrameType.HEADERS, frame.fin ? FLAG_FIN : 0, id32(frame.streamId), this.block(frame.headers));
      case 'rst_stream':
        return control(FrameType.RST_STREAM, 0, id32(frame.streamId), u32(frame.status));
      case 'settings': {
        const body = Buffer.alloc(4 + 8 * frame.entries.length);
        body.writeUInt32BE(frame.entries.length, 0);
        frame.entries.forEach((e, i) => {
          body.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24 | (e.id & 0xffffff)) >>> 0, 4 + 8 * i);
          body.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
        });
        return control(FrameType.SETTINGS, frame.clear ? FLAG_SETTINGS_CLEAR : 0, body);
      }
      case 'ping':
        return control(FrameType.PING, 0, u32(frame.id));
      case 'goaway':
        return control(FrameType.GOAWAY, 0, id32(frame.lastGoodStreamId), u32(frame.status));
      case 'window_update':
        return control(FrameType.WINDOW_UPDATE, 0, id32(frame.streamId), id32(frame.delta));
      case 'unknown':
        return control(frame.frameType, frame.flags, frame.payload);
    }
  }

  private block(headers: SpdyHeaders): Buffer {
    return this.compressor.compress(encodeHeaderBlock(headers));
  }
}

/** The 8-byte header of a DATA frame; the payload follows it on the wire. */
export function dataFrameHeader(streamId: number, length: number, fin: boolean): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`DATA payload of ${length} bytes exceeds the 24-bit frame length`);
  const hdr = Buffer.alloc(FRAME_HEADER_BYTES);
  hdr.writeUInt32BE(streamId & ID_MASK, 0);
  hdr.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24 | length) >>> 0, 4);
  return hdr;
}

/**
 * Splits the byte stream of one connection direction into frames. Feed it
 * socket chunks with push(), then drain with next(). Owns that direction's
 * header decompression context, so frames must be taken in order.
 */
export class FrameParser {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly decompressor: HeaderDecompressor;

  /** maxPayload bounds the memory one frame may take before it is complete. */
  constructor(private readonly maxPayload = 4 * 1024 * 1024, maxHeaderBlockBytes?: number) {
    this.decompressor = new HeaderDecompressor(maxHeaderBlockBytes);
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The next complete frame, or undefined until more bytes arrive. Throws FrameError. */
  next(): Frame | undefined {
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const head = this.peek(FRAME_HEADER_BYTES);
    const length = head.readUInt32BE(4) & 0xffffff;
    if (length > this.maxPayload) throw new FrameError(`frame payload of ${length} bytes exceeds the ${this.maxPayload}-byte limit`);
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined;
    const frame = this.take(FRAME_HEADER_BYTES + length);
    return this.decode(frame);
  }

  private decode(buf: Buffer): Frame {
    const word0 = buf.readUInt32BE(0);
    const flags = buf[4]!;
    const payload = buf.subarray(FRAME_HEADER_BYTES);
    if ((word0 & 0x80000000) === 0) {
      return { type: 'data', streamId: word0 & ID_MASK, fin: (flags & FLAG_FIN) !== 0, data: payload };
    }
    const version = (word0 >>> 16) & 0x7fff;
    const type = word0 & 0xffff;
    try {
      return this.decodeControl(type, version, flags, payload);
    } catch (err) {
      if (err instanceof FrameError) throw err;
      if (err instanceof HeaderBlockError) throw new FrameError(`control frame type ${type}: ${err.message}`, { cause: err });
      throw new FrameError(`control frame type ${type} with ${payload.length}-byte payload is malformed`, { cause: err });
    }
  }

  private decodeControl(type: number, version: number, flags: number, p: Buffer): Frame {
    const fin = (flags & FLAG_FIN) !== 0;
    switch (type) {
      case FrameType.SYN_STREAM:
        need(p, 10, 'SYN_STREAM');
        return {
          type: 'syn_stream',
          streamId: p.readUInt32BE(0) & ID_MASK,
          associatedToStreamId: p.readUInt32BE(4) & ID_MASK,
          priority: p[8]! >>> 5,
          slot: p[9]!,
          fin,
          unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
          headers: this.headers(p.subarray(10)),
          version,
        };
      case FrameType.SYN_REPLY:
        need(p, 4, 'SYN_REPLY');
        return { type: 'syn_reply', streamId: p.readUInt32BE(0) & ID_MASK, fin, headers: this.headers(p.subarray(4)) };
      case FrameType.HEADERS:
        need(p, 4, 'HEADERS');
        return { type: 'headers', streamId: p.readUInt32BE(0) & ID_MASK, fin, headers: this.headers(p.subarray(4)) };
      case FrameType.RST_STREAM:
        exact(p, 8, 'RST_STREAM');
        return { type: 'rst_stream', streamId: p.readUInt32BE(0) & ID_MASK, status: p.readUInt32BE(4) };
      case FrameType.SETTINGS:
        return decodeSettings(flags, p);
      case FrameType.PING:
        exact(p, 4, 'PING');
        return { type: 'ping', id: p.readUInt32BE(0) };
      case FrameType.GOAWAY:
        // SPDY/2 peers omit the status word; accept both lengths.
        if (p.length !== 4 && p.length !== 8) throw new FrameError(`GOAWAY payload is ${p.length} bytes, want 8`);
        return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & ID_MASK, status: p.length === 8 ? p.readUInt32BE(4) : 0 };
      case FrameType.WINDOW_UPDATE:
        exact(p, 8, 'WINDOW_UPDATE');
        return { type: 'window_update', streamId: p.readUInt32BE(0) & ID_MASK, delta: p.readUInt32BE(4) & ID_MASK };
      default:
        return { type: 'unknown', frameType: type, flags, payload: p };
    }
  }

  private headers(block: Buffer): SpdyHeaders {
    return decodeHeaderBlock(this.decompressor.decompress(block));
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks.length = 0;
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.buffered -= n;
    return all.subarray(0, n);
  }
}

function decodeSettings(flags: number, p: Buffer): Frame {
  need(p, 4, 'SETTINGS');
  const count = p.readUInt32BE(0);
  if (p.length !== 4 + 8 * count) throw new FrameError(`SETTINGS claims ${count} entries in a ${p.length}-byte payload`);
  const entries: SettingsEntry[] = [];
  for (let i = 0; i < count; i++) {
    const word = p.readUInt32BE(4 + 8 * i);
    entries.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
  }
  return { type: 'settings', clear: (flags & FLAG_SETTINGS_CLEAR) !== 0, entries };
}

function control(type: number, flags: number, ...body: Buffer[]): Buffer {
  const length = body.reduce((n, b) => n + b.length, 0);
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`control frame payload of ${length} bytes exceeds the 24-bit frame length`);
  const hdr = Buffer.alloc(FRAME_HEADER_BYTES);
  hdr.writeUInt32BE((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  hdr.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4);
  return Buffer.concat([hdr, ...body]);
}

function need(p: Buffer, n: number, what: string): void {
  if (p.length < n) throw new FrameError(`${what} payload is ${p.length} bytes, want at least ${n}`);
}

function exact(p: Buffer, n: number, what: string): void {
  if (p.length !== n) throw new FrameError(`${what} payload is ${p.length} bytes, want ${n}`);
}

function id32(n: number): Buffer {
  return u32(n & ID_MASK);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
