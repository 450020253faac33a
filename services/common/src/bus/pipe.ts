// BusPipe: the byte pipe of one streaming session (exec, attach,
// port-forward) between its caller (cri-gateway) and the service running it,
// over crius.v1.pipe.<callee>.<caller>.<sid>.up (caller → service) and .down
// (service → caller). Only those two bus users may use a pair's subjects
// (permissions.ts), and the 128 random bits of the session id keep one
// session of the pair from another.
// Frames carry their kind and channel in headers; data is credit-based (each
// side grants the other a window and tops it up as its consumer drains), so a
// slow reader bounds memory on both sides and a fast one is not throttled.
// Heartbeats let either side notice a peer that vanished. Owned by @crius/common.
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { InternalError, InvalidArgumentError, UnavailableError, errorFromCode, toCriusError, type CriusError } from '../errors.js';
import { mayCall } from './grants.js';
import { BUS_USERS, pipeSubject, processName, type BusUser, type PipeAddress, type ServiceName } from './subjects.js';

export type StreamChannel = 'stdin' | 'stdout' | 'stderr' | 'port';
export type PipeSide = 'gateway' | 'service';

/** How a session ended, as seen by one side. */
export type PipeEnd =
  | { kind: 'exit'; exitCode: number } // the service finished normally (attach/port-forward: 0)
  | { kind: 'error'; error: CriusError } // the service failed, or the peer broke the protocol
  | { kind: 'closed'; byPeer: boolean } // one side tore the session down (client gone, process killed)
  | { kind: 'timeout' }; // nothing heard from the peer for peerTimeoutMs

export interface BusPipeOptions {
  /** Bytes the peer may send before we grant more. Default 256 KiB. */
  windowBytes?: number;
  /** Largest data frame. Default 64 KiB (well under NATS max_payload). */
  maxFrameBytes?: number;
  /** Interval of keepalive frames. Default 5 s. */
  heartbeatMs?: number;
  /** Tear down when nothing arrived for this long. Default 30 s. */
  peerTimeoutMs?: number;
}

export const FRAME_HEADER = 'Crius-Frame';
export const CHANNEL_HEADER = 'Crius-Channel';
export const VALUE_HEADER = 'Crius-Value';

type FrameKind = 'data' | 'eof' | 'window' | 'resize' | 'exit' | 'error' | 'close' | 'ping';
const CHANNELS: readonly StreamChannel[] = ['stdin', 'stdout', 'stderr', 'port'];

/** A new session id: 128 random bits from the OS's CSPRNG, hex. */
export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Service side: the pipe address of a session request, after checking that
 * the caller it names may call `method` at all (grants.ts): a session is only
 * ever opened on subjects its caller is allowed to use.
 */
export function sessionAddress(callee: ServiceName, method: string, req: { sessionId: string; caller: string }): PipeAddress {
  const caller = req.caller as BusUser;
  if (!(BUS_USERS as readonly string[]).includes(caller) || !mayCall(caller, callee, method)) {
    throw new InvalidArgumentError(`${processName(callee)} ${method}: caller ${JSON.stringify(req.caller)} may not open ${method} sessions`);
  }
  if (!/^[0-9a-f]{32}$/.test(req.sessionId)) throw new InvalidArgumentError(`${processName(callee)} ${method}: session id ${JSON.stringify(req.sessionId)} is not 128 bits of hex`);
  return { callee, caller, sid: req.sessionId };
}

interface Inbound {
  queue: Buffer[];
  eof: boolean;
  wanting: boolean;
  readable: Readable;
}

export class BusPipe {
  private readonly window: number;
  private readonly maxFrame: number;
  private readonly peerTimeoutMs: number;
  private readonly out: string;
  private readonly sub: Subscription;
  private readonly inbound = new Map<StreamChannel, Inbound>();
  private readonly outbound = new Map<StreamChannel, Writable>();
  private readonly resizeListeners: ((size: { width: number; height: number }) => void)[] = [];
  private credit: number;
  private creditWaiters: (() => void)[] = [];
  private ungranted = 0;
  /** Bytes received and not yet handed to a consumer. */
  private queued = 0;
  private lastHeard = Date.now();
  private readonly timer: NodeJS.Timeout;
  private ended: PipeEnd | undefined;
  private resolveDone!: (end: PipeEnd) => void;
  /** Settles once, with how the session ended. */
  readonly done: Promise<PipeEnd>;

  readonly sid: string;

  constructor(
    private readonly nc: NatsConnection,
    readonly address: PipeAddress,
    readonly side: PipeSide,
    opts: BusPipeOptions = {},
  ) {
    this.sid = address.sid;
    this.window = opts.windowBytes ?? 256 * 1024;
    this.maxFrame = opts.maxFrameBytes ?? 64 * 1024;
    this.peerTimeoutMs = opts.peerTimeoutMs ?? 30_000;
    this.credit = this.window; // both sides start from the same window
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const [inDir, outDir] = side === 'gateway' ? (['down', 'up'] as const) : (['up', 'down'] as const);
    this.out = pipeSubject(address, outDir);
    this.sub = nc.subscribe(pipeSubject(address, inDir), { callback: (err, msg) => (err ? this.finish({ kind: 'error', error: toCriusError(err) }) : this.onFrame(msg.headers, msg.data)) });
    const beat = opts.heartbeatMs ?? 5000;
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > this.peerTimeoutMs) return this.finish({ kind: 'timeout' });
      this.send('ping');
    }, Math.min(beat, this.peerTimeoutMs / 2));
    this.timer.unref();
  }

  /** Bytes received from the peer that no consumer has taken yet (bounded by the window). */
  get bufferedBytes(): number {
    return this.queued;
  }

  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  /** What the peer sends on a channel; ends at the peer's eof. Reading it is what grants the peer more credit. */
  readable(channel: StreamChannel): Readable {
    return this.inboundOf(channel).readable;
  }

  /** Sends to the peer on a channel; end() sends eof. Writes wait for credit (write() returns false meanwhile). */
  writable(channel: StreamChannel): Writable {
    let w = this.outbound.get(channel);
    if (w) return w;
    w = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _enc, cb) => this.sendData(channel, chunk).then(() => cb(), cb),
      final: (cb) => {
        if (!this.ended) this.send('eof', channel);
        cb();
      },
    });
    this.outbound.set(channel, w);
    return w;
  }

  sendResize(size: { width: number; height: number }): void {
    this.send('resize', undefined, `${size.width} ${size.height}`);
  }

  onResize(listener: (size: { width: number; height: number }) => void): void {
    this.resizeListeners.push(listener);
  }

  /** Service side: the session finished; terminal. */
  sendExit(exitCode: number): void {
    if (this.ended) return;
    this.send('exit', undefined, String(exitCode));
    this.finish({ kind: 'exit', exitCode });
  }

  /** Service side: the session failed; terminal. The error's message reaches the user. */
  sendError(err: unknown): void {
    if (this.ended) return;
    const e = toCriusError(err);
    this.send('error', undefined, String(e.code), Buffer.from(e.message));
    this.finish({ kind: 'error', error: e });
  }

  /** Tears the session down from this side (client gone, shutdown); the peer sees 'closed'. */
  close(): void {
    if (this.ended) return;
    this.send('close');
    this.finish({ kind: 'closed', byPeer: false });
  }

  private inboundOf(channel: StreamChannel): Inbound {
    let ib = this.inbound.get(channel);
    if (ib) return ib;
    const created: Inbound = {
      queue: [],
      eof: false,
      wanting: false,
      readable: new Readable({ highWaterMark: 64 * 1024, read: () => ((created.wanting = true), this.pump(created)) }),
    };
    this.inbound.set(channel, created);
    if (this.ended) this.endInbound(created, this.ended);
    return created;
  }

  /** Moves queued bytes into the consumer's Readable while it wants more, granting credit for them. */
  private pump(ib: Inbound): void {
    while (ib.wanting && ib.queue.length > 0) {
      const chunk = ib.queue.shift()!;
      this.queued -= chunk.length;
      this.grant(chunk.length);
      ib.wanting = ib.readable.push(chunk);
    }
    if (ib.wanting && ib.eof && ib.queue.length === 0 && !ib.readable.readableEnded) ib.readable.push(null);
  }

  /** Batches window updates: one frame per quarter window consumed. */
  private grant(n: number): void {
    this.ungranted += n;
    if (this.ungranted >= this.window / 4 && !this.ended) {
      this.send('window', undefined, String(this.ungranted));
      this.ungranted = 0;
    }
  }

  private async sendData(channel: StreamChannel, chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      while (this.credit <= 0 && !this.ended) await new Promise<void>((r) => this.creditWaiters.push(r));
      if (this.ended?.kind === 'exit') return; // the peer finished: like a process that no longer reads
      if (this.ended) throw new UnavailableError(`stream session ${this.sid} ended while sending ${channel}`);
      const n = Math.min(this.credit, this.maxFrame, chunk.length - off);
      this.send('data', channel, undefined, chunk.subarray(off, off + n));
      this.credit -= n;
      off += n;
    }
  }

  private send(kind: FrameKind, channel?: StreamChannel, value?: string, data?: Uint8Array): void {
    const h = natsHeaders();
    h.set(FRAME_HEADER, kind);
    if (channel) h.set(CHANNEL_HEADER, channel);
    if (value !== undefined) h.set(VALUE_HEADER, value);
    try {
      this.nc.publish(this.out, data ?? new Uint8Array(), { headers: h });
    } catch (err) {
      if (kind !== 'close') this.finish({ kind: 'error', error: new UnavailableError(`stream session ${this.sid}: bus publish failed`, { cause: err }) });
    }
  }

  private onFrame(h: MsgHdrs | undefined, data: Uint8Array): void {
    if (this.ended) return;
    this.lastHeard = Date.now();
    const kind = h?.get(FRAME_HEADER) as FrameKind | undefined;
    const channel = h?.get(CHANNEL_HEADER) as StreamChannel;
    const value = h?.get(VALUE_HEADER) ?? '';
    switch (kind) {
      case 'data': {
        if (!CHANNELS.includes(channel)) return this.protocolError(`data on unknown channel ${channel}`);
        this.queued += data.length;
        if (this.queued > this.window) return this.protocolError(`peer sent ${this.queued} bytes beyond its ${this.window}-byte window`);
        const ib = this.inboundOf(channel);
        ib.queue.push(Buffer.from(data));
        return this.pump(ib);
      }
      case 'eof': {
        if (!CHANNELS.includes(channel)) return this.protocolError(`eof on unknown channel ${channel}`);
        const ib = this.inboundOf(channel);
        ib.eof = true;
        return this.pump(ib);
      }
      case 'window':
        this.credit += Number(value) || 0;
        for (const wake of this.creditWaiters.splice(0)) wake();
        return;
      case 'resize': {
        const [width, height] = value.split(' ').map(Number);
        if (width! >= 0 && height! >= 0) for (const l of this.resizeListeners) l({ width: width!, height: height! });
        return;
      }
      case 'exit':
        return this.finish({ kind: 'exit', exitCode: Number(value) });
      case 'error':
        return this.finish({ kind: 'error', error: errorFromCode(Number(value), Buffer.from(data).toString() || 'stream session failed') });
      case 'close':
        return this.finish({ kind: 'closed', byPeer: true });
      case 'ping':
        return;
      default:
        return this.protocolError(`unknown frame kind ${String(kind)}`);
    }
  }

  private protocolError(message: string): void {
    const error = new InternalError(`stream session ${this.sid}: ${message}`);
    this.send('error', undefined, String(error.code), Buffer.from(error.message));
    this.finish({ kind: 'error', error });
  }

  private endInbound(ib: Inbound, end: PipeEnd): void {
    if (end.kind === 'exit') {
      // A clean end: what was received still reaches the consumer, then eof.
      ib.eof = true;
      this.pump(ib);
    } else if (!ib.readable.readableEnded) {
      ib.readable.destroy(end.kind === 'error' ? end.error : undefined);
    }
  }

  private finish(end: PipeEnd): void {
    if (this.ended) return;
    this.ended = end;
    clearInterval(this.timer);
    this.sub.unsubscribe();
    for (const wake of this.creditWaiters.splice(0)) wake();
    for (const ib of this.inbound.values()) this.endInbound(ib, end);
    if (end.kind !== 'exit') for (const w of this.outbound.values()) if (!w.writableFinished) w.destroy();
    this.resolveDone(end);
  }
}

/** A human-readable reason for a session that did not end with exit/error. */
export function pipeEndError(end: PipeEnd, what: string): CriusError | undefined {
  if (end.kind === 'error') return end.error;
  if (end.kind === 'timeout') return new UnavailableError(`${what}: the other side stopped answering (no frames within the session timeout)`);
  if (end.kind === 'closed' && end.byPeer) return new UnavailableError(`${what}: the session was closed by the other side`);
  return undefined;
}

/** Copies src to the peer on channel, then sends eof. Settles (never rejects) when done or broken. */
export function pumpToPipe(pipe: BusPipe, channel: StreamChannel, src: Readable): Promise<void> {
  return pipeline(src, pipe.writable(channel)).catch(() => undefined);
}

/** Copies what the peer sends on channel into dst, ending dst at eof. Settles (never rejects) when done or broken. */
export function pumpFromPipe(pipe: BusPipe, channel: StreamChannel, dst: Writable): Promise<void> {
  return pipeline(pipe.readable(channel), dst).catch(() => undefined);
}
