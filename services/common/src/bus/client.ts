// BusClient: typed request/reply, streamed replies and events over NATS.
// Turns bus failures into the crius error set: no responders → Unavailable
// naming the service, timeout → DeadlineExceeded, error headers → the error
// the service threw.
import { createInbox, headers as natsHeaders, ErrorCode, type NatsConnection, type Msg, type MsgHdrs } from 'nats';
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
  STREAM_END_HEADER,
} from './headers.js';
import { eventSubject, inboxPrefix, processName, requestSubject, type BusUser, type EventKind, type ServiceName } from './subjects.js';

export interface CallOptions {
  /** Absolute deadline (epoch ms); when absent the client's default timeout applies. */
  deadline?: number;
  requestId?: string;
}

export interface BusClientOptions {
  /** Timeout for calls that carry no deadline. */
  defaultTimeoutMs?: number;
  /**
   * The bus user the connection logged in as (connectBus): streamed replies come to an
   * inbox under that user's prefix, the only inboxes its permissions let it read.
   * Without it, NATS's default prefix.
   */
  user?: BusUser;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export class BusClient {
  private readonly defaultTimeoutMs: number;
  private readonly inboxPrefix?: string;

  constructor(
    readonly nc: NatsConnection,
    options: BusClientOptions = {},
  ) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.inboxPrefix = options.user ? inboxPrefix(options.user) : undefined;
  }

  /** Send raw bytes, get raw bytes; the gateway uses this to forward CRI calls unchanged. */
  async requestRaw(service: ServiceName, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    const { timeout, hdrs } = this.prepare(opts);
    const subject = requestSubject(service, method);
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, payload, { timeout, headers: hdrs });
    } catch (err) {
      throw busFailure(err, service, method, timeout);
    }
    throwIfError(reply.headers);
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
   * A request whose reply is a stream of messages, ended by a message with the
   * stream-end header. Each message must arrive within the timeout of the last.
   */
  async *requestStreamRaw(
    service: ServiceName,
    method: string,
    payload: Uint8Array,
    opts: CallOptions = {},
  ): AsyncGenerator<Uint8Array> {
    const { timeout, hdrs } = this.prepare(opts);
    const inbox = createInbox(this.inboxPrefix);
    const sub = this.nc.subscribe(inbox, { timeout });
    try {
      this.nc.publish(requestSubject(service, method), payload, { reply: inbox, headers: hdrs });
      for await (const msg of sub) {
        if (msg.headers && msg.headers.code === 503) {
          throw new UnavailableError(`${processName(service)} is not running (no responder for ${method})`);
        }
        throwIfError(msg.headers);
        if (msg.headers?.get(STREAM_END_HEADER)) return;
        yield msg.data;
      }
    } catch (err) {
      throw busFailure(err, service, method, timeout);
    } finally {
      sub.unsubscribe();
    }
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
    return new InternalError(`bus permission denied for ${processName(service)} ${method}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(`bus call ${processName(service)} ${method} failed: ${message}`, { cause: err });
}
