// One SPDY stream as a Node Duplex: the readable side is the peer's DATA, the
// writable side becomes our DATA frames and end() sends FIN. Owned by the
// gateway's streaming server; spdy/connection.ts creates and drives it.
import { Duplex } from 'node:stream';
import { RstStatus, type SpdyHeaders } from './frames.js';

/** What a stream needs from its connection (implemented by SpdyConnection). */
export interface StreamOwner {
  /** Sends queued DATA (and FIN) as far as windows and the socket allow. */
  flush(stream: SpdyStream): void;
  sendReply(stream: SpdyStream, headers: SpdyHeaders, fin: boolean): void;
  sendReset(stream: SpdyStream, status: number): void;
  /** The consumer wants more: resume reading the socket. */
  onRead(stream: SpdyStream): void;
  /** Data left the read buffer (consumed): grant window for it. */
  onConsumed(stream: SpdyStream): void;
  /** The stream's read buffer is full: stop reading the socket. */
  onReadBufferFull(stream: SpdyStream): void;
  onDone(stream: SpdyStream): void;
}

export type OutItem = { data: Buffer; offset: number; cb: (err?: Error | null) => void } | { fin: true; cb: (err?: Error | null) => void };

export class SpdyStream extends Duplex {
  /** Bytes we may still send under SPDY flow control (tracked even when not enforced). */
  sendWindow: number;
  /** @internal queued outgoing DATA, drained by the connection. */
  readonly outQueue: OutItem[] = [];
  /** @internal flow-control bookkeeping of the connection. */
  received = 0;
  credited = 0;
  sessionCounted = 0;
  replied = false;
  /** We sent FIN (or the peer opened the stream unidirectional). */
  localClosed: boolean;
  /** The peer sent FIN. */
  remoteClosed = false;
  /** RST_STREAM status if the stream was reset by either side. */
  resetStatus: number | undefined;
  /** True if the peer reset the stream. */
  resetByPeer = false;
  private done = false;

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    /** Headers of the peer's SYN_STREAM. */
    readonly headers: SpdyHeaders,
    opts: { sendWindow: number; readBuffer: number; unidirectional: boolean },
  ) {
    super({ readableHighWaterMark: opts.readBuffer, allowHalfOpen: true, emitClose: true });
    this.sendWindow = opts.sendWindow;
    this.localClosed = opts.unidirectional;
    // Stream failures are reported through the connection and the reset
    // status; an 'error' with no listener would crash the gateway.
    this.on('error', () => undefined);
  }

  /** Accepts the stream (SYN_REPLY). Writing data replies implicitly. */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (this.replied || this.resetStatus !== undefined) return;
    this.replied = true;
    this.owner.sendReply(this, headers, fin);
    if (fin) this.markLocalClosed();
  }

  /** Aborts the stream (RST_STREAM) and destroys it. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetStatus !== undefined || this.done) return;
    this.resetStatus = status;
    this.owner.sendReset(this, status);
    this.finishDone();
    this.destroy();
  }

  get isFinished(): boolean {
    return this.done;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.resetStatus !== undefined || this.localClosed) return cb(new Error(`SPDY stream ${this.id} is closed for writing`));
    this.outQueue.push({ data: chunk, offset: 0, cb });
    this.owner.flush(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localClosed || this.resetStatus !== undefined) return cb();
    this.outQueue.push({ fin: true, cb });
    this.owner.flush(this);
  }

  override _read(): void {
    this.owner.onRead(this);
  }

  // Node calls _read before it takes buffered data out, so _read cannot tell
  // what was consumed; every consumer (flowing mode, pipe, for-await) goes
  // through read(), so account here.
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.owner.onConsumed(this);
    return chunk;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Destroyed before both sides closed cleanly (e.g. a pipeline failed): tell the peer.
    if (!this.done && this.resetStatus === undefined) {
      this.resetStatus = RstStatus.CANCEL;
      this.owner.sendReset(this, RstStatus.CANCEL);
    }
    this.failQueue(new Error(`SPDY stream ${this.id} destroyed`));
    this.finishDone();
    cb(err);
  }

  /** @internal DATA from the peer. */
  deliver(data: Buffer): void {
    this.received += data.length;
    const more = this.push(data);
    this.owner.onConsumed(this); // a 'data' listener may have taken it at once
    if (!more) this.owner.onReadBufferFull(this);
  }

  /** @internal The peer sent FIN. */
  remoteFin(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    if (this.localClosed) this.finishDone();
  }

  /** @internal We sent FIN. */
  markLocalClosed(): void {
    this.localClosed = true;
    if (this.remoteClosed) this.finishDone();
  }

  /** @internal The peer reset the stream or the connection went away. */
  abort(status: number | undefined): void {
    if (this.done) return;
    this.resetStatus = status ?? RstStatus.CANCEL;
    this.resetByPeer = status !== undefined;
    this.finishDone();
    this.emit('reset', this.resetStatus);
    this.destroy();
  }

  /** @internal */
  failQueue(err: Error): void {
    for (const item of this.outQueue.splice(0)) item.cb(err);
  }

  private finishDone(): void {
    if (this.done) return;
    this.done = true;
    this.owner.onDone(this);
  }
}
