// BusClient: typed request/reply, streamed replies and events over NATS.
// Turns bus failures into the crius error set: no responders → Unavailable
// naming the service, timeout → DeadlineExceeded, error headers → the error
// the service threw.
import { headers as natsHeaders, ErrorCode, type NatsConnection, type Msg, type MsgHdrs } from 'nats';
import {
  CriusError,
  DeadlineExceededError,
  InternalError,
  UnavailableError,
  errorFromCode,
} from '../errors.js';
import { encode, type MessageCodec } from './codec.js';
import {
  DEADLINE_HEADER,
  ERROR_CODE_HEADER,
  ERROR_MESSAGE_HEADER,
  REQUEST_ID_HEADER,
  STREAM_ID_HEADER,
  STREAM_NEXT_HEADER,
  STREAM_STATE_HEADER,
} from './headers.js';
import { NEXT_ITEM_TOKEN, eventSubject, processName, requestSubject, type EventKind, type ServiceName } from './subjects.js';

export interface CallOptions {
  /** Absolute deadline (epoch ms); when absent the client's default timeout applies. */
  deadline?: number;
  requestId?: string;
}

export interface BusClientOptions {
  /** Timeout for calls that carry no deadline. */
  defaultTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export class BusClient {
  private readonly defaultTimeoutMs: number;

  constructor(
    readonly nc: NatsConnection,
    options: BusClientOptions = {},
  ) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Send raw bytes, get raw bytes; the gateway uses this to forward CRI calls unchanged. */
  async requestRaw(service: ServiceName, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    const reply = await this.requestMsg(service, method, requestSubject(service, method), payload, opts);
    return reply.data;
  }

  async call<Req, Res>(
    service: ServiceName,
    method: string,
    reqCodec: MessageCodec<Req>,
    resCodec: MessageCodec<Res>,
    request: Req,
    opts: CallOptions = {},
  ): Promise<Res> {
    const data = await this.requestRaw(service, method, encode(reqCodec, request), opts);
    return resCodec.decode(data);
  }

  /**
   * A request whose reply is a stream of items. The service answers each request once:
   * with an item and, while more follow, where to ask for the next (see server.ts), so
   * each item is one request/reply, each within the caller's deadline (or the default
   * timeout per item when there is none).
   */
  async *requestStreamRaw(
    service: ServiceName,
    method: string,
    payload: Uint8Array,
    opts: CallOptions = {},
  ): AsyncGenerator<Uint8Array> {
    let reply = await this.requestMsg(service, method, requestSubject(service, method), payload, opts);
    for (;;) {
      const state = reply.headers?.get(STREAM_STATE_HEADER);
      if (state !== 'more' && state !== 'last' && state !== 'none') {
        throw new InternalError(`${processName(service)} answered ${method} without a stream state (is it an older version?)`);
      }
      if (state === 'none') return;
      yield reply.data;
      if (state === 'last') return;
      const next = reply.headers?.get(STREAM_NEXT_HEADER) ?? '';
      if (!next.startsWith(`${requestSubject(service, method)}.${NEXT_ITEM_TOKEN}.`)) {
        throw new InternalError(`${processName(service)} answered ${method} with a next-item subject of another method (${JSON.stringify(next)})`);
      }
      reply = await this.requestMsg(service, method, next, new Uint8Array(), opts, { [STREAM_ID_HEADER]: reply.headers?.get(STREAM_ID_HEADER) ?? '' });
    }
  }

  /** One request/reply with the crius headers; bus failures and error replies thrown as crius errors. */
  private async requestMsg(
    service: ServiceName, method: string, subject: string, payload: Uint8Array, opts: CallOptions, extra: Record<string, string> = {},
  ): Promise<Msg> {
    const { timeout, hdrs } = this.prepare(opts);
    for (const [k, v] of Object.entries(extra)) hdrs.set(k, v);
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, payload, { timeout, headers: hdrs });
    } catch (err) {
      throw busFailure(err, service, method, timeout);
    }
    throwIfError(reply.headers);
    return reply;
  }

  publishEvent<T>(kind: EventKind, id: string, codec: MessageCodec<T>, event: T): void {
    this.nc.publish(eventSubject(kind, id), encode(codec, event));
  }

  private prepare(opts: CallOptions): { timeout: number; hdrs: MsgHdrs } {
    const hdrs = natsHeaders();
    let timeout = this.defaultTimeoutMs;
    if (opts.deadline !== undefined && Number.isFinite(opts.deadline)) {
      timeout = Math.max(1, opts.deadline - Date.now());
      hdrs.set(DEADLINE_HEADER, String(Math.floor(opts.deadline)));
    }
    if (opts.requestId) hdrs.set(REQUEST_ID_HEADER, opts.requestId);
    return { timeout, hdrs };
  }
}

function throwIfError(hdrs: MsgHdrs | undefined): void {
  const code = hdrs?.get(ERROR_CODE_HEADER);
  if (!code) return;
  throw errorFromCode(Number(code), hdrs?.get(ERROR_MESSAGE_HEADER) ?? 'unknown error');
}

function busFailure(err: unknown, service: ServiceName, method: string, timeout: number): CriusError {
  if (err instanceof CriusError) return err;
  const code = (err as { code?: string }).code;
  if (code === ErrorCode.NoResponders) {
    return new UnavailableError(`${processName(service)} is not running (no responder for ${method})`, { cause: err });
  }
  if (code === ErrorCode.Timeout) {
    return new DeadlineExceededError(`${processName(service)} did not answer ${method} within ${timeout} ms`, { cause: err });
  }
  if (code === ErrorCode.ConnectionClosed || code === ErrorCode.Disconnect || code === ErrorCode.ConnectionRefused) {
    return new UnavailableError(`bus connection lost while calling ${processName(service)} ${method}`, { cause: err });
  }
  if (code === ErrorCode.PermissionsViolation) {
    // The grants table (bus/grants.ts) does not let this bus user call it: a bug, not an outage.
    return new InternalError(`bus permission denied: this bus user may not call ${processName(service)} ${method}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(`bus call ${processName(service)} ${method} failed: ${message}`, { cause: err });
}
