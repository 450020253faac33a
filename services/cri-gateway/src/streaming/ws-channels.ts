// Channel framing over one WebSocket, as the Kubernetes channel protocols use
// it: every binary message starts with a channel byte. Gives each outgoing
// channel a Writable with backpressure (a write completes while the socket's
// buffer is under the high-water mark) and pauses reading for slow inbound
// consumers. Owned by the gateway's streaming server.
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

const HIGH_WATER = 256 * 1024;

export class ChannelSocket {
  private readonly waiting: Array<(err?: Error | null) => void> = [];
  private readonly pauseReasons = new Set<unknown>();
  private readonly goneListeners = new Set<() => void>();
  private gone = false;

  constructor(readonly ws: WebSocket) {
    ws.once('close', () => this.fail(new Error('WebSocket closed')));
  }

  /**
   * Runs cb once the client is gone: the socket closed, or a send failed
   * (which can come before 'close'). Returns a function that unregisters it.
   */
  onGone(cb: () => void): () => void {
    if (this.gone) queueMicrotask(cb);
    else this.goneListeners.add(cb);
    return () => this.goneListeners.delete(cb);
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /**
   * Sends data on a channel. cb runs once the socket can take more: at once
   * while little is buffered, else when the buffer drained below the mark.
   */
  send(channel: number, data: Buffer, cb: (err?: Error | null) => void = () => undefined): void {
    if (!this.open) return cb(new Error('WebSocket is not open'));
    const frame = Buffer.allocUnsafe(data.length + 1);
    frame[0] = channel;
    data.copy(frame, 1);
    this.ws.send(frame, { binary: true }, (err) => {
      if (err) this.fail(err);
      else if (this.ws.bufferedAmount <= HIGH_WATER) this.release();
    });
    if (this.ws.bufferedAmount <= HIGH_WATER && this.waiting.length === 0) cb();
    else this.waiting.push(cb);
  }

  /** Sends data and resolves when it was written to the socket. */
  sendAndWait(channel: number, data: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (!this.open) return resolve();
      const frame = Buffer.concat([Buffer.from([channel]), data]);
      this.ws.send(frame, { binary: true }, () => resolve());
    });
  }

  /** A Writable whose chunks go out on one channel. */
  writer(channel: number): Writable {
    const w = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _enc, cb) => this.send(channel, chunk, cb),
    });
    // A write failing because the client left is reported by the socket's
    // 'close'; an 'error' with no listener would crash the gateway.
    w.on('error', () => undefined);
    return w;
  }

  /** Stops reading from the client while any reason holds. */
  setPaused(reason: unknown, paused: boolean): void {
    const had = this.pauseReasons.size > 0;
    if (paused) this.pauseReasons.add(reason);
    else this.pauseReasons.delete(reason);
    const has = this.pauseReasons.size > 0;
    if (had === has || !this.open) return;
    if (has) this.ws.pause();
    else this.ws.resume();
  }

  /** Writes inbound data into a stream, pausing the socket while it is full. */
  forward(into: Writable, data: Buffer): void {
    if (into.destroyed || into.writableEnded) return;
    if (!into.write(data)) {
      this.setPaused(into, true);
      into.once('drain', () => this.setPaused(into, false));
    }
  }

  /** The client is gone: tell the session first, then fail pending writes. */
  private fail(err: Error): void {
    if (!this.gone) {
      this.gone = true;
      for (const cb of [...this.goneListeners]) cb();
    }
    this.release(err);
  }

  private release(err?: Error): void {
    for (const cb of this.waiting.splice(0)) cb(err);
  }
}
