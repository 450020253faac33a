// Test support (not used by the gateway): a minimal SPDY/3.1 client written
// from the protocol on top of spdy/frames.ts — the role kubectl, crictl and
// the kubelet play against the streaming server — plus a raw HTTP upgrade.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameEncoder, FrameParser, SettingsId, type Frame, type SpdyHeaders } from '../spdy/frames.js';

export interface UpgradeResponse {
  status: number;
  headers: Record<string, string[]>;
  /** Bytes after the response head (the body, or the first frames). */
  rest: Buffer;
  socket: Socket;
}

/**
 * Sends one HTTP/1.1 request with the given headers and reads the response
 * head. `host` replaces the Host header's value; null sends none.
 */
export function httpUpgrade(url: string, headers: Record<string, string | string[]>, method = 'POST', host?: string | null): Promise<UpgradeResponse> {
  const u = new URL(url);
  const port = Number(u.port);
  const socket: Socket =
    u.protocol === 'https:' ? tlsConnect({ host: u.hostname, port, rejectUnauthorized: false }) : netConnect({ host: u.hostname, port });
  const lines = [`${method} ${u.pathname}${u.search} HTTP/1.1`];
  if (host !== null) lines.push(`Host: ${host ?? u.host}`);
  for (const [k, v] of Object.entries(headers)) for (const value of [v].flat()) lines.push(`${k}: ${value}`);
  socket.setNoDelay(true); // as Go clients do: window updates must not wait for Nagle
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const [statusLine, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const hdrs: Record<string, string[]> = {};
      for (const line of rest) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        (hdrs[name] ??= []).push(line.slice(i + 1).trim());
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers: hdrs, rest: buf.subarray(end + 4), socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection closed before a response (got ${buf.length} bytes)`)));
  });
}

export class ClientStream {
  readonly chunks: Buffer[] = [];
  received = 0;
  finished = false;
  resetStatus: number | undefined;
  readonly replied: Promise<void>;
  /** Resolves with everything received once the server sent FIN (or reset/closed). */
  readonly ended: Promise<Buffer>;
  /** @internal */ onReply!: () => void;
  /** @internal */ onEnd!: () => void;
  credited = 0;
  /** Window the server granted us for sending on this stream. */
  sendWindow = 64 * 1024;

  constructor(
    private readonly client: SpdyTestClient,
    readonly id: number,
  ) {
    this.replied = new Promise((r) => (this.onReply = r));
    this.ended = new Promise((r) => (this.onEnd = () => r(Buffer.concat(this.chunks))));
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  write(data: Buffer | string, fin = false): void {
    this.client.send({ type: 'data', streamId: this.id, fin, data: Buffer.from(data) });
  }

  end(): void {
    this.write(Buffer.alloc(0), true);
  }

  /** Writes like a compliant SPDY/3.1 sender: never past the stream or session window. */
  async writeWithinWindow(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.sendWindow, this.client.sessionSendWindow, 16 * 1024);
      if (n <= 0) {
        await this.client.windowChanged();
        continue;
      }
      this.write(data.subarray(off, off + n));
      this.sendWindow -= n;
      this.client.sessionSendWindow -= n;
      off += n;
    }
  }

  reset(status = 5): void {
    this.client.send({ type: 'rst_stream', streamId: this.id, status });
  }
}

export interface SpdyClientOptions {
  /** X-Stream-Protocol-Version values offered, in preference order. */
  protocols?: string[];
  /** Announce flow control (SETTINGS) and grant window as data arrives, like a SPDY/3.1 browser. */
  flowControl?: boolean;
  /** With flowControl: send WINDOW_UPDATEs (false = a client that never consumes). Default true. */
  grantWindow?: boolean;
  /** The Host header's value instead of the URL's; null sends none. */
  host?: string | null;
}

export class SpdyTestClient {
  readonly frames: Frame[] = [];
  readonly streams = new Map<number, ClientStream>();
  private readonly encoder = new FrameEncoder();
  private readonly parser = new FrameParser(16 * 1024 * 1024);
  private nextId = 1;
  private sessionCredited = 0;
  private sessionReceived = 0;
  /** Window the server granted us for sending on the whole connection. */
  sessionSendWindow = 64 * 1024;
  private windowWaiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    readonly protocol: string | undefined,
    private readonly opts: SpdyClientOptions,
  ) {
    this.closed = new Promise((r) => socket.once('close', () => r()));
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      for (const s of this.streams.values()) s.onEnd();
    });
  }

  /** Upgrades to SPDY/3.1; throws with the status if the server refused. */
  static async connect(url: string, opts: SpdyClientOptions = {}): Promise<SpdyTestClient> {
    const headers: Record<string, string | string[]> = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' };
    if (opts.protocols) headers['X-Stream-Protocol-Version'] = opts.protocols;
    const res = await httpUpgrade(url, headers, 'POST', opts.host);
    if (res.status !== 101) {
      res.socket.destroy();
      throw Object.assign(new Error(`upgrade refused: HTTP ${res.status} ${res.rest.toString()}`), { status: res.status });
    }
    const client = new SpdyTestClient(res.socket, res.headers['x-stream-protocol-version']?.[0], opts);
    if (opts.flowControl) {
      client.send({ type: 'settings', clear: false, entries: [{ id: SettingsId.INITIAL_WINDOW_SIZE, value: 64 * 1024 }] });
    }
    client.onBytes(res.rest);
    res.socket.resume();
    return client;
  }

  openStream(headers: SpdyHeaders, fin = false): ClientStream {
    const id = this.nextId;
    this.nextId += 2;
    const stream = new ClientStream(this, id);
    this.streams.set(id, stream);
    this.send({ type: 'syn_stream', streamId: id, associatedToStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers });
    return stream;
  }

  send(frame: Frame): void {
    if (!this.socket.destroyed) this.socket.write(this.encoder.encode(frame));
  }

  /** Sends raw bytes (for malformed-input tests). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves at the next WINDOW_UPDATE from the server (or when the connection closes). */
  windowChanged(): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed while waiting for window'));
    return new Promise((r) => this.windowWaiters.push(r));
  }

  /** Resolves when a frame matching pred has arrived. */
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`no matching frame within ${timeoutMs} ms; got ${this.frames.map((x) => x.type).join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private onBytes(chunk: Buffer): void {
    this.parser.push(chunk);
    for (let f = this.parser.next(); f; f = this.parser.next()) this.handle(f);
  }

  private handle(f: Frame): void {
    // Keep DATA out of the log: a large transfer would hold every payload twice.
    if (f.type !== 'data') this.frames.push(f);
    const s = 'streamId' in f ? this.streams.get(f.streamId) : undefined;
    if (f.type === 'syn_reply' && s) s.onReply();
    if (f.type === 'window_update') {
      if (f.streamId === 0) this.sessionSendWindow += f.delta;
      else if (s) s.sendWindow += f.delta;
      for (const w of this.windowWaiters.splice(0)) w();
    }
    if (f.type === 'rst_stream' && s) {
      s.resetStatus = f.status;
      s.onEnd();
    }
    if (f.type === 'data' && s) {
      s.chunks.push(f.data);
      s.received += f.data.length;
      this.grant(s, f.data.length);
      if (f.fin) {
        s.finished = true;
        s.onEnd();
      }
    }
  }

  private grant(s: ClientStream, n: number): void {
    this.sessionReceived += n;
    if (!this.opts.flowControl || this.opts.grantWindow === false) return;
    if (s.received - s.credited >= 32 * 1024) {
      this.send({ type: 'window_update', streamId: s.id, delta: s.received - s.credited });
      s.credited = s.received;
    }
    if (this.sessionReceived - this.sessionCredited >= 32 * 1024) {
      this.send({ type: 'window_update', streamId: 0, delta: this.sessionReceived - this.sessionCredited });
      this.sessionCredited = this.sessionReceived;
    }
  }
}
