// The CRI socket's client→server HTTP/2 byte filter: Node's HTTP/2 layer
// (nghttp2) resets every stream whose :authority or host it finds invalid —
// a unix socket path such as /run/crius/crius.sock, an empty value — or that
// has neither, and many CRI clients send exactly that. The filter decodes each
// header block (HPACK keeps per-connection state, so every block is decoded),
// and rewrites the blocks that need it; everything else passes byte for byte.
//
// HPACK state: while no block has been rewritten, the server's decoder sees
// the client's bytes unchanged, so its dynamic table equals the client's
// ("mirror"). The first rewritten block, and every block after it, is
// re-encoded with static references and literals without indexing only
// ("flat"), so from then on the server's table is never referenced and the
// client's table, which only this filter still follows, cannot disagree with it.
import { encodeWithoutIndexing, HpackDecoder, type HeaderField } from './hpack.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const FRAME_HEADER = 9;
const DATA = 0x0;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value, the least any peer accepts. */
export const MAX_FRAME = 16384;
/** Largest encoded header block buffered; the server's header list limit (64 KiB decoded) is far below. */
const MAX_BLOCK = 256 * 1024;

const EMPTY = Buffer.alloc(0);

/** The byte stream breaks HTTP/2 or HPACK: the connection is to be closed. */
export class H2FilterError extends Error {}

// Characters nghttp2 accepts in :authority and host (RFC 3986 §3.2 reg-name,
// IP-literal, port, plus '@' and '%'); '/' and ' ' are not among them.
const AUTHORITY_OK = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=:@[]%') AUTHORITY_OK[c.charCodeAt(0)] = 1;

/** Whether nghttp2 takes this :authority / host value (it refuses empty ones too). */
export function validAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!AUTHORITY_OK[value.charCodeAt(i)]) return false;
  return true;
}

/**
 * The fields to send instead, or undefined when the block can go unchanged:
 * an invalid :authority / host becomes `replacement`, a request with neither
 * gets `:authority: replacement` (trailers never get one).
 */
export function fixAuthority(fields: readonly HeaderField[], isRequest: boolean, replacement: string): HeaderField[] | undefined {
  let out: HeaderField[] | undefined;
  let present = false;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.name !== ':authority' && f.name !== 'host') continue;
    present = true;
    if (validAuthority(f.value)) continue;
    out ??= fields.slice();
    out[i] = { name: f.name, value: replacement, rep: f.rep };
  }
  if (isRequest && !present) out = [{ name: ':authority', value: replacement, rep: 'without' }, ...fields];
  return out;
}

/** A header block as HEADERS + CONTINUATION frames of at most MAX_FRAME payload octets. */
export function headerFrames(stream: number, flags: number, priority: Buffer | undefined, block: Buffer): Buffer {
  const first = MAX_FRAME - (priority?.length ?? 0);
  const rest = Math.max(0, block.length - first);
  const frames = 1 + Math.ceil(rest / MAX_FRAME);
  const out = Buffer.allocUnsafe(frames * FRAME_HEADER + (priority?.length ?? 0) + block.length);
  let pos = 0;
  let from = 0;
  for (let n = 0; n < frames; n++) {
    const room = n === 0 ? first : MAX_FRAME;
    const take = Math.min(room, block.length - from);
    const last = n === frames - 1;
    const type = n === 0 ? HEADERS : CONTINUATION;
    const f = (n === 0 ? flags & (END_STREAM | PRIORITY) : 0) | (last ? END_HEADERS : 0);
    const payload = take + (n === 0 && priority ? priority.length : 0);
    out.writeUIntBE(payload, pos, 3);
    out[pos + 3] = type;
    out[pos + 4] = f;
    out.writeUInt32BE(stream, pos + 5);
    pos += FRAME_HEADER;
    if (n === 0 && priority) pos += priority.copy(out, pos);
    pos += block.copy(out, pos, from, from + take);
    from += take;
  }
  return out;
}

interface HeldFrame {
  bytes: Buffer;
  /** Where `bytes` starts in the chunk of push call `push`, so it can be passed on without a copy. */
  offset: number;
  push: number;
}

interface OpenBlock {
  stream: number;
  flags: number;
  priority: Buffer | undefined;
  fragments: Buffer[];
  frames: HeldFrame[];
  size: number;
}

export interface AuthorityFilterOptions {
  /** The :authority sent instead of an invalid or missing one. Default "localhost". */
  replacement?: string;
  /**
   * Drop the client's first SETTINGS acknowledgement: it acknowledges a
   * SETTINGS frame the gateway sent before the server existed (listener.ts).
   */
  dropFirstSettingsAck?: boolean;
}

/** One connection's client→server direction. Feed it chunks in order; it returns what to send on. */
export class AuthorityFilter {
  private readonly replacement: string;
  private readonly decoder = new HpackDecoder();
  private prefaceSeen = 0;
  /** A frame header split across chunks. */
  private readonly head = Buffer.alloc(FRAME_HEADER);
  private headLen = 0;
  /** Payload octets of the current passed-through frame still to come. */
  private passLeft = 0;
  /** A header-block frame being collected across chunks. */
  private partial: { bytes: Buffer; got: number } | undefined;
  private block: OpenBlock | undefined;
  private lastStream = 0;
  private flat = false;
  /** Counts push calls, so a held frame knows whether it lies in the current chunk. */
  private pushes = 0;
  private dropAck: boolean;
  // Output of the current push: contiguous ranges of its chunk become one slice.
  private chunk: Buffer = EMPTY;
  private out: Buffer[] = [];
  private runStart = -1;
  private runEnd = -1;
  /** Header blocks re-encoded so far (one connection's count, for logs and tests). */
  rewrittenBlocks = 0;
  /** Header blocks seen so far. */
  headerBlocks = 0;
  /** Whether the SETTINGS acknowledgement `dropFirstSettingsAck` asked for has come (and gone). */
  settingsAckDropped = false;
  /** Called with each frame's type as its header is read. */
  onFrame: ((type: number) => void) | undefined;

  constructor(opts: AuthorityFilterOptions = {}) {
    this.replacement = opts.replacement ?? 'localhost';
    this.dropAck = opts.dropFirstSettingsAck ?? false;
  }

  /** Whether blocks are re-encoded from now on (after the first one that needed a fix). */
  get reencoding(): boolean {
    return this.flat;
  }

  /** Filters one chunk. Throws H2FilterError on malformed input; do not call again after that. */
  push(chunk: Buffer): Buffer[] {
    this.chunk = chunk;
    this.out = [];
    this.pushes++;
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      if (this.prefaceSeen < PREFACE.length) {
        const n = Math.min(PREFACE.length - this.prefaceSeen, len - i);
        if (chunk.compare(PREFACE, this.prefaceSeen, this.prefaceSeen + n, i, i + n) !== 0) throw new H2FilterError('connection does not start with the HTTP/2 preface');
        this.emitRange(i, i + n);
        this.prefaceSeen += n;
        i += n;
      } else if (this.passLeft > 0) {
        const n = Math.min(this.passLeft, len - i);
        this.emitRange(i, i + n);
        this.passLeft -= n;
        i += n;
      } else if (this.partial) {
        const p = this.partial;
        const n = Math.min(p.bytes.length - p.got, len - i);
        chunk.copy(p.bytes, p.got, i, i + n);
        p.got += n;
        i += n;
        if (p.got === p.bytes.length) {
          this.partial = undefined;
          this.onHeaderBlockFrame({ bytes: p.bytes, offset: -1, push: 0 });
        }
      } else if (this.headLen > 0 || len - i < FRAME_HEADER) {
        const n = Math.min(FRAME_HEADER - this.headLen, len - i);
        chunk.copy(this.head, this.headLen, i, i + n);
        this.headLen += n;
        i += n;
        if (this.headLen === FRAME_HEADER) {
          this.headLen = 0;
          this.startFrame(Buffer.from(this.head), 0, -1);
        }
      } else {
        const length = chunk.readUIntBE(i, 3);
        if (isHeaderBlockFrame(chunk[i + 3]!) && len - i >= FRAME_HEADER + length) {
          // The whole frame is in this chunk: held without a copy.
          this.checkFrame(chunk[i + 3]!, length);
          this.onHeaderBlockFrame({ bytes: chunk.subarray(i, i + FRAME_HEADER + length), offset: i, push: this.pushes });
          i += FRAME_HEADER + length;
        } else {
          this.startFrame(chunk, i, i);
          i += FRAME_HEADER;
        }
      }
    }
    this.flushRun();
    const out = this.out;
    this.out = [];
    this.chunk = EMPTY;
    return out;
  }

  private flushRun(): void {
    if (this.runEnd > this.runStart) this.out.push(this.chunk.subarray(this.runStart, this.runEnd));
    this.runStart = this.runEnd = -1;
  }

  private emitRange(start: number, end: number): void {
    if (this.runEnd !== start) {
      this.flushRun();
      this.runStart = start;
    }
    this.runEnd = end;
  }

  private emit(buf: Buffer): void {
    this.flushRun();
    this.out.push(buf);
  }

  private emitHeld(f: HeldFrame): void {
    if (f.push === this.pushes) this.emitRange(f.offset, f.offset + f.bytes.length);
    else this.emit(f.bytes);
  }

  /**
   * The bytes held back (an unfinished frame header, frame or header block),
   * as they came, and the filter emptied of them. For handing the connection
   * over unfiltered; only right while nothing was re-encoded.
   */
  release(): Buffer[] {
    const out: Buffer[] = [];
    if (this.block) out.push(...this.block.frames.map((f) => f.bytes));
    if (this.partial) out.push(this.partial.bytes.subarray(0, this.partial.got));
    if (this.headLen > 0) out.push(Buffer.from(this.head.subarray(0, this.headLen)));
    this.block = this.partial = undefined;
    this.headLen = 0;
    return out;
  }

  private checkFrame(type: number, length: number): void {
    this.onFrame?.(type);
    if (this.block && type !== CONTINUATION) throw new H2FilterError(`frame type ${type} inside a header block (CONTINUATION expected)`);
    if (type === PUSH_PROMISE) throw new H2FilterError('PUSH_PROMISE from a client');
    if (isHeaderBlockFrame(type) && length > MAX_BLOCK) throw new H2FilterError(`header frame of ${length} octets`);
  }

  /**
   * A frame header is complete: `head` at `at`, which is also its offset in
   * the current chunk, or -1 when it was pieced together from two chunks.
   */
  private startFrame(head: Buffer, at: number, inChunk: number): void {
    const length = head.readUIntBE(at, 3);
    const type = head[at + 3]!;
    this.checkFrame(type, length);
    if (type === SETTINGS && head[at + 4]! & 0x1 && this.dropAck) {
      if (length !== 0) throw new H2FilterError(`SETTINGS acknowledgement with ${length} octets of payload`);
      this.dropAck = false;
      this.settingsAckDropped = true;
      return;
    }
    if (!isHeaderBlockFrame(type)) {
      if (inChunk >= 0) this.emitRange(inChunk, inChunk + FRAME_HEADER);
      else this.emit(head);
      this.passLeft = length;
      return;
    }
    const bytes = Buffer.allocUnsafe(FRAME_HEADER + length);
    head.copy(bytes, 0, at, at + FRAME_HEADER);
    if (length === 0) this.onHeaderBlockFrame({ bytes, offset: -1, push: 0 });
    else this.partial = { bytes, got: FRAME_HEADER };
  }

  /** A whole HEADERS or CONTINUATION frame. */
  private onHeaderBlockFrame(frame: HeldFrame): void {
    const b = frame.bytes;
    const length = b.length - FRAME_HEADER;
    const type = b[3]!;
    const flags = b[4]!;
    const stream = b.readUInt32BE(5) & 0x7fffffff;
    if (stream === 0) throw new H2FilterError(`frame type ${type} on stream 0`);
    if (type === HEADERS) {
      let from = FRAME_HEADER;
      let pad = 0;
      if (flags & PADDED) {
        if (length < 1) throw new H2FilterError('PADDED HEADERS frame without a pad length');
        pad = b[from++]!;
      }
      let priority: Buffer | undefined;
      if (flags & PRIORITY) {
        if (b.length - from < 5) throw new H2FilterError('HEADERS frame too short for its priority');
        priority = b.subarray(from, from + 5);
        from += 5;
      }
      if (pad > b.length - from) throw new H2FilterError('HEADERS padding longer than the frame');
      const fragment = b.subarray(from, b.length - pad);
      this.block = { stream, flags, priority, fragments: [fragment], frames: [frame], size: fragment.length };
    } else {
      const open = this.block;
      if (!open) throw new H2FilterError('CONTINUATION without a header block');
      if (open.stream !== stream) throw new H2FilterError(`CONTINUATION on stream ${stream} inside stream ${open.stream}'s header block`);
      open.size += length;
      if (open.size > MAX_BLOCK) throw new H2FilterError(`header block over ${MAX_BLOCK} octets`);
      open.fragments.push(b.subarray(FRAME_HEADER));
      open.frames.push(frame);
    }
    if (flags & END_HEADERS) this.finishBlock();
  }

  private finishBlock(): void {
    const open = this.block!;
    this.block = undefined;
    const bytes = open.fragments.length === 1 ? open.fragments[0]! : Buffer.concat(open.fragments, open.size);
    let decoded;
    try {
      decoded = this.decoder.decode(bytes);
    } catch (err) {
      throw new H2FilterError(`stream ${open.stream}: ${(err as Error).message}`, { cause: err });
    }
    this.headerBlocks++;
    const isRequest = open.stream > this.lastStream;
    if (isRequest) this.lastStream = open.stream;
    const fixed = fixAuthority(decoded.fields, isRequest, this.replacement);
    if (!fixed && !this.flat) {
      for (const f of open.frames) this.emitHeld(f);
      return;
    }
    this.flat = true;
    this.rewrittenBlocks++;
    const block = encodeWithoutIndexing(fixed ?? decoded.fields, decoded.tableSizeUpdates);
    this.emit(headerFrames(open.stream, open.flags, open.priority, block));
  }
}


function isHeaderBlockFrame(type: number): boolean {
  return type === HEADERS || type === CONTINUATION;
}

export const FRAME_TYPES = { DATA, HEADERS, SETTINGS, PUSH_PROMISE, PING: 0x6, GOAWAY: 0x7, RST_STREAM: 0x3, CONTINUATION } as const;
