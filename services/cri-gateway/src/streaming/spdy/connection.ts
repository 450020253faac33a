// Server side of a SPDY/3.1 connection on a socket that answered
// `Upgrade: SPDY/3.1` with 101: accepts the client's streams, echoes PINGs,
// runs per-stream and session flow control, GOAWAY on close. Owned by the
// gateway's streaming server; remotecommand and portforward sit on top.
//
// Flow control: Kubernetes' SPDY library (spdystream) neither sends nor honours
// WINDOW_UPDATE, so the send windows are enforced only once the peer shows it
// does flow control (SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE, mode
// 'auto'). Memory stays bounded either way: stream writes complete only while
// the socket's write buffer is under its high-water mark, and reading from the
// socket pauses while a stream's read buffer is full (like spdystream, that
// holds up the whole connection) or the peer does not read our replies.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  FrameEncoder,
  FrameError,
  FrameParser,
  GoAwayStatus,
  RstStatus,
  SettingsId,
  dataFrameHeader,
  type Frame,
  type SpdyHeaders,
} from './frames.js';
import { SpdyStream, type StreamOwner } from './stream.js';

export { SpdyStream } from './stream.js';

export const DEFAULT_WINDOW = 64 * 1024;

export interface SpdyConnectionOptions {
  /** Largest frame payload accepted from the peer (bounds per-frame memory). Default 4 MiB. */
  maxFramePayload?: number;
  /** Largest DATA frame we send. Default 32 KiB. */
  maxDataFrame?: number;
  /** Stop reading the socket while this many bytes wait unsent in it. Default 1 MiB. */
  maxSocketBuffer?: number;
  /** 'auto' (default): enforce send windows once the peer uses flow control. */
  sendFlowControl?: 'auto' | 'always' | 'never';
  /** Close the connection after this long without traffic. 0 = never. */
  idleTimeoutMs?: number;
}

export interface SpdyConnection {
  on(event: 'stream', listener: (stream: SpdyStream) => void): this;
  on(event: 'goaway', listener: (status: number) => void): this;
  on(event: 'close', listener: (err?: Error) => void): this;
  once(event: 'goaway', listener: (status: number) => void): this;
  once(event: 'close', listener: (err?: Error) => void): this;
}

export class SpdyConnection extends EventEmitter implements StreamOwner {
  private readonly encoder = new FrameEncoder();
  private readonly parser: FrameParser;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly pauseReasons = new Set<unknown>();
  private readonly drainWaiters: Array<(err?: Error | null) => void> = [];
  private readonly blocked = new Set<SpdyStream>();
  private readonly maxDataFrame: number;
  private readonly maxSocketBuffer: number;
  private flowControl: boolean;
  private readonly flowMode: 'auto' | 'always' | 'never';
  private lastPeerStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sessionSendWindow = DEFAULT_WINDOW;
  private sessionConsumed = 0;
  private sessionCredited = 0;
  private needDrain = false;
  /** We sent GOAWAY: no new streams. */
  private sentGoAway = false;
  /** The peer sent GOAWAY: it opens no new streams. */
  private peerGoneAway = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private _closed = false;

  constructor(private readonly socket: Duplex & { setTimeout?(ms: number): unknown }, head?: Buffer, opts: SpdyConnectionOptions = {}) {
    super();
    this.parser = new FrameParser(opts.maxFramePayload ?? 4 * 1024 * 1024);
    this.maxDataFrame = opts.maxDataFrame ?? 32 * 1024;
    this.maxSocketBuffer = opts.maxSocketBuffer ?? 1024 * 1024;
    this.flowMode = opts.sendFlowControl ?? 'auto';
    this.flowControl = this.flowMode === 'always';
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('end', () => this.destroy());
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
    if (opts.idleTimeoutMs && socket.setTimeout) {
      socket.setTimeout(opts.idleTimeoutMs);
      socket.on('timeout', () => this.destroy(new Error(`SPDY connection idle for ${opts.idleTimeoutMs} ms`)));
    }
    if (head && head.length > 0) queueMicrotask(() => this.onBytes(head));
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Streams that are still open in at least one direction. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Graceful close: GOAWAY, then end the socket once our frames are written. */
  close(): void {
    if (this._closed || this.socket.writableEnded) return;
    this.goAway(GoAwayStatus.OK);
    this.endSocket();
  }

  /** Abrupt close: every stream is aborted, the socket destroyed. */
  destroy(err?: Error): void {
    this.teardown(err);
    this.socket.destroy();
  }

  private teardown(err?: Error): void {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this.closeTimer);
    for (const s of [...this.streams.values()]) s.abort(undefined);
    this.streams.clear();
    for (const cb of this.drainWaiters.splice(0)) cb(new Error('SPDY connection closed'));
    this.emit('close', err);
  }

  /** Ends our side once queued frames are out; destroys it if the peer never closes. */
  private endSocket(): void {
    this.socket.end();
    this.closeTimer = setTimeout(() => this.destroy(), 5000);
    this.closeTimer.unref();
  }

  // ---- inbound ----

  private onBytes(chunk: Buffer): void {
    if (this._closed) return;
    this.parser.push(chunk);
    try {
      for (let f = this.parser.next(); f && !this._closed; f = this.parser.next()) this.handle(f);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      // Say why before hanging up: end (not destroy) so the GOAWAY gets out.
      this.goAway(GoAwayStatus.PROTOCOL_ERROR);
      this.teardown(err);
      this.endSocket();
    }
  }

  private handle(f: Frame): void {
    switch (f.type) {
      case 'syn_stream':
        return this.onSynStream(f);
      case 'data':
        return this.onData(f.streamId, f.data, f.fin);
      case 'rst_stream':
        return this.streams.get(f.streamId)?.abort(f.status);
      case 'headers':
        if (f.fin) this.streams.get(f.streamId)?.remoteFin();
        return;
      case 'settings':
        return this.onSettings(f.entries);
      case 'window_update':
        return this.onWindowUpdate(f.streamId, f.delta);
      case 'ping':
        // Odd ids are the client's: echo them. Even ids would answer our own pings (we send none).
        if (f.id % 2 === 1) this.write(this.encoder.encode(f));
        return;
      case 'goaway':
        this.peerGoneAway = true;
        this.emit('goaway', f.status);
        return;
      case 'syn_reply': // we open no streams, so there is nothing to reply to
      case 'unknown': // SPDY: unknown control frames are ignored
        return;
    }
  }

  private onSynStream(f: Extract<Frame, { type: 'syn_stream' }>): void {
    const rst = (status: number) => this.write(this.encoder.encode({ type: 'rst_stream', streamId: f.streamId, status }));
    if (f.version !== 3) return rst(RstStatus.UNSUPPORTED_VERSION);
    if (this.streams.has(f.streamId)) return rst(RstStatus.STREAM_IN_USE);
    // Client streams are odd and increasing.
    if (f.streamId % 2 === 0 || f.streamId <= this.lastPeerStreamId) return rst(RstStatus.PROTOCOL_ERROR);
    this.lastPeerStreamId = f.streamId;
    if (this.sentGoAway || this.peerGoneAway || this.listenerCount('stream') === 0) return rst(RstStatus.REFUSED_STREAM);
    const stream = new SpdyStream(this, f.streamId, f.headers, {
      sendWindow: this.peerInitialWindow,
      readBuffer: DEFAULT_WINDOW,
      unidirectional: f.unidirectional,
    });
    this.streams.set(f.streamId, stream);
    if (f.fin) stream.remoteFin();
    this.emit('stream', stream);
  }

  private onData(id: number, data: Buffer, fin: boolean): void {
    const stream = this.streams.get(id);
    if (!stream || stream.remoteClosed) {
      // Late data for a stream we closed: discard it, but give its window back.
      this.sessionConsumed += data.length;
      this.creditSession();
      if (stream) stream.reset(RstStatus.STREAM_ALREADY_CLOSED);
      return;
    }
    if (data.length > 0) stream.deliver(data);
    if (fin) stream.remoteFin();
  }

  private onSettings(entries: { id: number; value: number }[]): void {
    const win = entries.find((e) => e.id === SettingsId.INITIAL_WINDOW_SIZE);
    if (!win) return;
    const delta = win.value - this.peerInitialWindow;
    this.peerInitialWindow = win.value;
    for (const s of this.streams.values()) s.sendWindow += delta;
    this.enableFlowControl();
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, delta: number): void {
    this.enableFlowControl();
    if (id === 0) this.sessionSendWindow += delta;
    else {
      const s = this.streams.get(id);
      if (!s) return;
      s.sendWindow += delta;
    }
    this.flushBlocked();
  }

  private enableFlowControl(): void {
    if (this.flowControl || this.flowMode !== 'auto') return;
    // A peer that first speaks of windows after we overran them never tracked them.
    if (this.sessionSendWindow < 0 || [...this.streams.values()].some((s) => s.sendWindow < 0)) return;
    this.flowControl = true;
  }

  // ---- outbound ----

  flush(s: SpdyStream): void {
    if (this._closed || s.resetStatus !== undefined) return s.failQueue(new Error(`SPDY stream ${s.id} is closed`));
    if (!s.replied) s.reply();
    while (s.outQueue.length > 0) {
      const item = s.outQueue[0]!;
      if ('fin' in item) {
        this.write(dataFrameHeader(s.id, 0, true));
        s.outQueue.shift();
        s.markLocalClosed();
        this.afterWrite(item.cb);
        continue;
      }
      let n = Math.min(item.data.length - item.offset, this.maxDataFrame);
      if (this.flowControl) n = Math.min(n, s.sendWindow, this.sessionSendWindow);
      if (n <= 0) {
        this.blocked.add(s);
        return;
      }
      this.socket.cork();
      this.write(dataFrameHeader(s.id, n, false));
      this.write(item.data.subarray(item.offset, item.offset + n));
      this.socket.uncork();
      s.sendWindow -= n;
      this.sessionSendWindow -= n;
      item.offset += n;
      if (item.offset === item.data.length) {
        s.outQueue.shift();
        this.afterWrite(item.cb);
      }
    }
  }

  sendReply(s: SpdyStream, headers: SpdyHeaders, fin: boolean): void {
    this.write(this.encoder.encode({ type: 'syn_reply', streamId: s.id, fin, headers }));
  }

  sendReset(s: SpdyStream, status: number): void {
    this.write(this.encoder.encode({ type: 'rst_stream', streamId: s.id, status }));
  }

  onRead(s: SpdyStream): void {
    this.setPaused(s, false);
  }

  onConsumed(s: SpdyStream): void {
    const consumed = s.received - s.readableLength;
    this.sessionConsumed += consumed - s.sessionCounted;
    s.sessionCounted = consumed;
    // Grant window back in halves, as the peer's data is consumed.
    if (!s.remoteClosed && consumed - s.credited >= DEFAULT_WINDOW / 2) {
      this.write(this.encoder.encode({ type: 'window_update', streamId: s.id, delta: consumed - s.credited }));
      s.credited = consumed;
    }
    this.creditSession();
  }

  onReadBufferFull(s: SpdyStream): void {
    this.setPaused(s, true);
  }

  onDone(s: SpdyStream): void {
    // Data the consumer never read is dropped: give it back to the session window.
    this.sessionConsumed += s.received - s.sessionCounted;
    s.sessionCounted = s.received;
    this.creditSession();
    this.streams.delete(s.id);
    this.blocked.delete(s);
    this.setPaused(s, false);
  }

  private creditSession(): void {
    const owed = this.sessionConsumed - this.sessionCredited;
    if (this._closed || owed < DEFAULT_WINDOW / 2) return;
    this.write(this.encoder.encode({ type: 'window_update', streamId: 0, delta: owed }));
    this.sessionCredited = this.sessionConsumed;
  }

  private flushBlocked(): void {
    const streams = [...this.blocked];
    this.blocked.clear();
    for (const s of streams) this.flush(s);
  }

  private goAway(status: number): void {
    if (this.sentGoAway) return;
    this.sentGoAway = true;
    this.write(this.encoder.encode({ type: 'goaway', lastGoodStreamId: this.lastPeerStreamId, status }));
  }

  private write(buf: Buffer): void {
    if (this._closed || this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.socket.write(buf)) this.needDrain = true;
    if (this.socket.writableLength > this.maxSocketBuffer) this.setPaused(this.socket, true);
  }

  /** A write completes at once while the socket has room, else on 'drain': backpressure for the producer. */
  private afterWrite(cb: (err?: Error | null) => void): void {
    if (this.needDrain) this.drainWaiters.push(cb);
    else cb();
  }

  private onDrain(): void {
    this.needDrain = false;
    this.setPaused(this.socket, false);
    // A callback may refill the socket (the producer writes its next chunk): stop there.
    while (this.drainWaiters.length > 0 && !this.needDrain) this.drainWaiters.shift()!();
  }

  private setPaused(reason: unknown, paused: boolean): void {
    const had = this.pauseReasons.size > 0;
    if (paused) this.pauseReasons.add(reason);
    else this.pauseReasons.delete(reason);
    const has = this.pauseReasons.size > 0;
    if (had === has || this._closed) return;
    if (has) this.socket.pause();
    else this.socket.resume();
  }
}
