// A bare HTTP/2 client over a unix socket for tests that must control every
// byte of a request: its own frame writer and header-field encoding (literal
// fields, indexing, Huffman, CONTINUATION as the test chooses), none of
// node:http2's client checks. Answers SETTINGS and PING, opens flow control
// wide, and collects each stream's headers, gRPC messages and trailers.
// Response header blocks are decoded with the gateway's HPACK decoder
// (services/cri-gateway/src/h2/hpack.ts, tested against RFC 7541's examples);
// the direction under test, client to server, uses nothing of the gateway's
// except huffmanEncode, which is tested against RFC 7541 and nghttp2.
import net from 'node:net';
import { HpackDecoder } from '../../services/cri-gateway/src/h2/hpack.js';
import { huffmanEncode } from '../../services/cri-gateway/src/h2/huffman.js';

export const T = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9 } as const;
export const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

// --- Header field encoding (RFC 7541 §5, §6), written for the tests. ---

function int(value: number, prefixBits: number, flags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) | 128);
  out.push(value);
  return Buffer.from(out);
}

function str(s: string, huffman: boolean): Buffer {
  const bytes = huffman ? huffmanEncode(s) : Buffer.from(s, 'latin1');
  return Buffer.concat([int(bytes.length, 7, huffman ? 0x80 : 0), bytes]);
}

export type Indexing = 'incremental' | 'without' | 'never';
const LITERAL_FLAGS: Record<Indexing, [number, number]> = { incremental: [0x40, 6], without: [0x00, 4], never: [0x10, 4] };

/** A literal field with a literal name. */
export function literal(name: string, value: string, opts: { indexing?: Indexing; huffman?: boolean } = {}): Buffer {
  const [flags] = LITERAL_FLAGS[opts.indexing ?? 'without'];
  return Buffer.concat([Buffer.from([flags]), str(name, false), str(value, opts.huffman ?? false)]);
}

/** A literal field whose name is table entry `index` (1 = :authority, 38 = host). */
export function literalIndexedName(index: number, value: string, opts: { indexing?: Indexing; huffman?: boolean } = {}): Buffer {
  const [flags, prefix] = LITERAL_FLAGS[opts.indexing ?? 'without'];
  return Buffer.concat([int(index, prefix, flags), str(value, opts.huffman ?? false)]);
}

/** An indexed field: static 1..61, dynamic from 62 (newest first). */
export function indexed(index: number): Buffer {
  return int(index, 7, 0x80);
}

/**
 * The fields of a gRPC request to `path`: POST, http, path, then `authority`
 * (encoded fields, still among the pseudo-headers), then content-type and te.
 */
export function grpcRequestFields(path: string, authority: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([indexed(3), indexed(6), literalIndexedName(4, path), authority, literalIndexedName(31, 'application/grpc'), literal('te', 'trailers')]);
}

/** A gRPC message frame (uncompressed). */
export function grpcMessage(body: Uint8Array): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(body.length, 1);
  return Buffer.concat([h, body]);
}

export interface StreamState {
  headers: [string, string][];
  trailers: [string, string][];
  messages: Buffer[];
  rstCode?: number;
  ended: boolean;
}

/** The value of a field in a decoded header list. */
export function field(list: [string, string][], name: string): string | undefined {
  return list.find(([n]) => n === name)?.[1];
}

export class RawH2Client {
  private readonly socket: net.Socket;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, StreamState & { data: Buffer; headerDone: boolean }>();
  private readonly waiters = new Set<() => void>();
  private inbox: Buffer = Buffer.alloc(0);
  private pendingBlock: { stream: number; parts: Buffer[]; endStream: boolean } | undefined;
  private nextStream = 1;
  /** Set once the server sent GOAWAY or closed the connection. */
  goaway: number | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects and sends the preface, an empty SETTINGS and a large connection window. */
  static async connect(socketPath: string): Promise<RawH2Client> {
    const socket = net.connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawH2Client(socket);
    c.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.SETTINGS, 0, 0), windowUpdate(0, 1 << 30)]));
    return c;
  }

  /** A fresh client stream id (1, 3, 5, ...). */
  stream(): number {
    const id = this.nextStream;
    this.nextStream += 2;
    return id;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /**
   * Sends one gRPC call: the header block (split into HEADERS + CONTINUATION
   * at `splitAt` offsets if given), then the message with END_STREAM.
   */
  call(stream: number, block: Buffer, body: Uint8Array, splitAt: number[] = []): void {
    this.write(Buffer.concat([...headerFrames(stream, block, splitAt), frame(T.DATA, F.END_STREAM, stream, grpcMessage(body))]));
  }

  /** Waits until `pred` holds for the stream, the connection closes, or `timeoutMs` passes. */
  async until(stream: number, pred: (s: StreamState) => boolean, timeoutMs = 20_000): Promise<StreamState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.state(stream);
      if (s.rstCode !== undefined) throw new Error(`stream ${stream} reset by the server with code ${s.rstCode}`);
      if (pred(s)) return s;
      if (this.closed || this.goaway !== undefined) throw new Error(`connection ended (GOAWAY ${this.goaway ?? 'none'}) before stream ${stream} finished`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream ${stream}: no answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(() => done());
      });
    }
  }

  /** Waits until the server has closed the connection (or sent GOAWAY). */
  async ended(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && this.goaway === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.add(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Waits for the stream to end (trailers or RST_STREAM) and returns it. */
  async response(stream: number, timeoutMs?: number): Promise<StreamState> {
    return this.until(stream, (s) => s.ended, timeoutMs);
  }

  state(stream: number): StreamState & { data: Buffer; headerDone: boolean } {
    let s = this.streams.get(stream);
    if (!s) {
      s = { headers: [], trailers: [], messages: [], ended: false, data: Buffer.alloc(0) as Buffer, headerDone: false };
      this.streams.set(stream, s);
    }
    return s;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private onData(d: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, d]) : d;
    while (this.inbox.length >= 9) {
      const len = this.inbox.readUIntBE(0, 3);
      if (this.inbox.length < 9 + len) break;
      const type = this.inbox[3]!;
      const flags = this.inbox[4]!;
      const stream = this.inbox.readUInt32BE(5) & 0x7fffffff;
      const payload = this.inbox.subarray(9, 9 + len);
      this.inbox = this.inbox.subarray(9 + len);
      this.onFrame(type, flags, stream, payload);
    }
    this.wake();
  }

  private onFrame(type: number, flags: number, stream: number, payload: Buffer): void {
    switch (type) {
      case T.SETTINGS:
        if (!(flags & F.ACK)) this.write(frame(T.SETTINGS, F.ACK, 0));
        break;
      case T.PING:
        if (!(flags & F.ACK)) this.write(frame(T.PING, F.ACK, 0, payload));
        break;
      case T.GOAWAY:
        this.goaway = payload.readUInt32BE(4);
        break;
      case T.RST_STREAM:
        this.state(stream).rstCode = payload.readUInt32BE(0);
        this.state(stream).ended = true;
        break;
      case T.DATA: {
        const s = this.state(stream);
        s.data = Buffer.concat([s.data, payload]);
        while (s.data.length >= 5 && s.data.length >= 5 + s.data.readUInt32BE(1)) {
          const n = s.data.readUInt32BE(1);
          s.messages.push(Buffer.from(s.data.subarray(5, 5 + n)));
          s.data = s.data.subarray(5 + n);
        }
        if (payload.length > 0) this.write(windowUpdate(stream, payload.length));
        if (flags & F.END_STREAM) s.ended = true;
        break;
      }
      case T.HEADERS:
      case T.CONTINUATION: {
        let p = payload;
        if (type === T.HEADERS) {
          if (flags & F.PADDED) p = p.subarray(1, p.length - p[0]!);
          if (flags & F.PRIORITY) p = p.subarray(5);
          this.pendingBlock = { stream, parts: [], endStream: (flags & F.END_STREAM) !== 0 };
        }
        const block = this.pendingBlock!;
        block.parts.push(Buffer.from(p));
        if (flags & F.END_HEADERS) {
          this.pendingBlock = undefined;
          const fields = this.decoder.decode(Buffer.concat(block.parts)).fields.map((f): [string, string] => [f.name, f.value]);
          const s = this.state(block.stream);
          if (!s.headerDone && !block.endStream) {
            s.headers = fields;
            s.headerDone = true;
          } else {
            // Trailers, or a trailers-only response (headers and trailers in one block).
            if (!s.headerDone) s.headers = fields;
            s.trailers = fields;
          }
          if (block.endStream) s.ended = true;
        }
        break;
      }
    }
  }
}

function windowUpdate(stream: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment, 0);
  return frame(T.WINDOW_UPDATE, 0, stream, p);
}

/** A header block as HEADERS + CONTINUATION frames cut at the given offsets. */
export function headerFrames(stream: number, block: Buffer, splitAt: number[] = []): Buffer[] {
  const cuts = [0, ...splitAt, block.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const last = i + 2 === cuts.length;
    out.push(frame(i === 0 ? T.HEADERS : T.CONTINUATION, last ? F.END_HEADERS : 0, stream, block.subarray(cuts[i], cuts[i + 1])));
  }
  return out;
}
