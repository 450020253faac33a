// Serves a service's bus methods with the NATS service framework (queue group
// = the service name, discovery via $SRV.*). Every handler is awaited inside
// one try/catch, so a thrown or rejected error always becomes an error reply
// with a gRPC code, never silence. Deadlines and request ids come from headers.
//
// Every request gets exactly one reply, streams included: a streamed method
// answers with its first item and, while more follow, the subject of this
// instance on which the caller asks for the next one (one request per item):
// crius.v1.<service>.<Method>._next.<instance>, so the permission to call a
// method is also the permission to page through its replies, and nothing else.
// So nats-server lets a responder answer each request once (allow_responses
// max 1) and forgets the permission at once; with "many replies per request"
// it kept one entry per request for its whole expiry and rescanned them all on
// every new request once there were 4096.
import { headers as natsHeaders, nuid, type Msg, type MsgHdrs, type NatsConnection, type Service, type ServiceMsg } from 'nats';
import type { Logger } from 'pino';
import { DeadlineExceededError, NotFoundError, UnimplementedError, toCriusError, type CriusError } from '../errors.js';
import { encode, type MessageCodec } from './codec.js';
import {
  DEADLINE_HEADER,
  ERROR_CODE_HEADER,
  ERROR_MESSAGE_HEADER,
  REQUEST_ID_HEADER,
  STREAM_ID_HEADER,
  STREAM_NEXT_HEADER,
  STREAM_STATE_HEADER,
  headerText,
} from './headers.js';
import { NEXT_ITEM_TOKEN, SUBJECT_ROOT, isReadMethod, nextItemSubject, processName, type ServiceName } from './subjects.js';

export interface HandlerContext {
  requestId: string;
  /** Absolute deadline (epoch ms) of the original caller, if it set one. */
  deadline?: number;
  /** Aborted when the caller's deadline passes. */
  signal: AbortSignal;
  /** Child logger carrying the method and request id (made on first use). */
  readonly log: Logger;
}

interface UnaryEndpoint<Req, Res> {
  kind: 'unary';
  req: MessageCodec<Req>;
  res: MessageCodec<Res>;
  handle(req: Req, ctx: HandlerContext): Promise<Res>;
}
interface StreamEndpoint<Req, Res> {
  kind: 'stream';
  req: MessageCodec<Req>;
  res: MessageCodec<Res>;
  handle(req: Req, ctx: HandlerContext): AsyncIterable<Res>;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BusEndpoint = UnaryEndpoint<any, any> | StreamEndpoint<any, any>;

export function unary<Req, Res>(
  req: MessageCodec<Req>,
  res: MessageCodec<Res>,
  handle: (req: Req, ctx: HandlerContext) => Promise<Res>,
): BusEndpoint {
  return { kind: 'unary', req, res, handle };
}

export function stream<Req, Res>(
  req: MessageCodec<Req>,
  res: MessageCodec<Res>,
  handle: (req: Req, ctx: HandlerContext) => AsyncIterable<Res>,
): BusEndpoint {
  return { kind: 'stream', req, res, handle };
}

export interface ServeOptions {
  service: ServiceName;
  version: string;
  log: Logger;
  endpoints: Record<string, BusEndpoint>;
  /** Methods this service owns but does not implement yet: answered UNIMPLEMENTED. */
  unimplemented?: readonly string[];
}

export async function serveBus(nc: NatsConnection, opts: ServeOptions): Promise<Service> {
  const srv = await nc.services.add({
    name: processName(opts.service),
    version: opts.version,
    queue: opts.service,
    description: `crius ${processName(opts.service)}`,
  });
  const streams = new OpenStreams(nc, opts.service);
  const group = srv.addGroup(`${SUBJECT_ROOT}.${opts.service}`);
  for (const [method, endpoint] of Object.entries(opts.endpoints)) {
    group.addEndpoint(method, (err, msg) => {
      if (err) return;
      void dispatch(msg, method, endpoint, opts, streams);
    });
  }
  for (const method of opts.unimplemented ?? []) {
    if (method in opts.endpoints) continue;
    group.addEndpoint(method, (err, msg) => {
      if (err) return;
      const e = new UnimplementedError(`${processName(opts.service)} does not implement ${method} yet`);
      msg.respondError(e.code, headerText(e.message));
      // Logged like any other failed call, so every request a service answered shows in its log.
      const requestId = msg.headers?.get(REQUEST_ID_HEADER) || undefined;
      opts.log.warn({ method, ...(requestId ? { requestId } : {}), code: e.code, err: e.message }, 'failed');
    });
  }
  void srv.stopped.then(() => streams.closeAll());
  return srv;
}

async function dispatch(msg: ServiceMsg, method: string, endpoint: BusEndpoint, opts: ServeOptions, streams: OpenStreams): Promise<void> {
  const requestId = msg.headers?.get(REQUEST_ID_HEADER) || '';
  const deadlineText = msg.headers?.get(DEADLINE_HEADER);
  const deadline = deadlineText ? Number(deadlineText) : undefined;
  let child: Logger | undefined;
  const logger = () => (child ??= opts.log.child({ method, ...(requestId ? { requestId } : {}) }));
  const controller = new AbortController();
  const timer = deadline !== undefined ? setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now())) : undefined;
  const started = performance.now();
  const finish = (err?: unknown) => {
    if (timer) clearTimeout(timer);
    if (err !== undefined) {
      const e = toCriusError(err);
      logger().warn({ code: e.code, err: e.message, cause: causeText(err) }, 'failed');
      return;
    }
    const ms = +(performance.now() - started).toFixed(3);
    if (!isReadMethod(method)) logger().info({ ms }, 'served');
    else if (opts.log.isLevelEnabled('debug')) logger().debug({ ms }, 'served');
  };
  try {
    if (deadline !== undefined && deadline <= Date.now()) {
      throw new DeadlineExceededError(`${method}: caller's deadline passed before ${processName(opts.service)} got the request`);
    }
    const ctx: HandlerContext = {
      requestId,
      deadline,
      signal: controller.signal,
      get log() {
        return logger();
      },
    };
    const request = endpoint.req.decode(msg.data);
    if (endpoint.kind === 'unary') {
      const response = await endpoint.handle(request, ctx);
      // The caller has given up (its own timer fires at the same moment): say so, never a late success.
      if (controller.signal.aborted) throw new DeadlineExceededError(`${method}: finished after the caller's deadline`);
      msg.respond(encode(endpoint.res, response));
      finish();
    } else {
      await streams.start(msg, method, encodeAll(endpoint.handle(request, ctx), endpoint.res), finish);
    }
  } catch (err) {
    const e = toCriusError(err);
    msg.respondError(e.code, headerText(e.message));
    finish(err);
  }
}

async function* encodeAll<T>(items: AsyncIterable<T>, codec: MessageCodec<T>): AsyncGenerator<Uint8Array> {
  for await (const item of items) yield encode(codec, item);
}

interface OpenStream {
  method: string;
  items: AsyncIterator<Uint8Array>;
  /** The item the caller gets next (fetched one ahead, so the reply can say it is the last). */
  pending: Uint8Array;
  idle: NodeJS.Timeout;
  finish(err?: unknown): void;
}

/**
 * The streams this instance is serving, each waiting for its caller to ask for the next
 * item on this instance's own subject of the method (not the queue group: the state
 * lives here). A stream nobody asks for within `idleMs` is closed.
 */
class OpenStreams {
  private readonly open = new Map<string, OpenStream>();
  private readonly instance = nuid.next();

  constructor(
    nc: NatsConnection,
    private readonly service: ServiceName,
    private readonly idleMs = 30_000,
  ) {
    nc.subscribe(`${SUBJECT_ROOT}.${service}.*.${NEXT_ITEM_TOKEN}.${this.instance}`, {
      callback: (err, msg) => {
        if (!err) void this.next(msg);
      },
    });
  }

  /** Replies to the stream request with its first item (or "none"); errors propagate to dispatch. */
  async start(msg: ServiceMsg, method: string, items: AsyncIterator<Uint8Array>, finish: (err?: unknown) => void): Promise<void> {
    const first = await items.next();
    if (first.done) {
      msg.respond(new Uint8Array(), { headers: streamHeaders('none') });
      finish();
      return;
    }
    const id = nuid.next();
    const s: OpenStream = { method, items, pending: first.value, idle: this.idleTimer(id), finish };
    this.open.set(id, s);
    await this.reply(msg, id, s);
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.close(id, new Error('service stopping'));
  }

  private async next(msg: Msg): Promise<void> {
    const id = msg.headers?.get(STREAM_ID_HEADER) ?? '';
    const s = this.open.get(id);
    // A stream is paged only through the subject of its own method (the one its caller may call).
    if (!s || msg.subject !== nextItemSubject(this.service, s.method, this.instance)) {
      respondWithError(msg, new NotFoundError(`stream ${JSON.stringify(id)} is not open here (finished, or idle for ${this.idleMs} ms)`));
      return;
    }
    clearTimeout(s.idle);
    s.idle = this.idleTimer(id);
    await this.reply(msg, id, s);
  }

  /** Sends the pending item, saying whether another follows (fetching it first). */
  private async reply(msg: Pick<Msg, 'respond'>, id: string, s: OpenStream): Promise<void> {
    const item = s.pending;
    let following: IteratorResult<Uint8Array>;
    try {
      following = await s.items.next();
    } catch (err) {
      this.close(id, err);
      respondWithError(msg, toCriusError(err));
      return;
    }
    if (following.done) {
      this.close(id);
      msg.respond(item, { headers: streamHeaders('last') });
      return;
    }
    s.pending = following.value;
    const h = streamHeaders('more');
    h.set(STREAM_NEXT_HEADER, nextItemSubject(this.service, s.method, this.instance));
    h.set(STREAM_ID_HEADER, id);
    msg.respond(item, { headers: h });
  }

  private idleTimer(id: string): NodeJS.Timeout {
    return setTimeout(() => this.close(id, new DeadlineExceededError(`stream idle for ${this.idleMs} ms: its caller stopped asking`)), this.idleMs);
  }

  private close(id: string, err?: unknown): void {
    const s = this.open.get(id);
    if (!s) return;
    this.open.delete(id);
    clearTimeout(s.idle);
    if (err !== undefined) void s.items.return?.(undefined)?.catch(() => undefined);
    s.finish(err);
  }
}

function streamHeaders(state: 'more' | 'last' | 'none'): MsgHdrs {
  const h = natsHeaders();
  h.set(STREAM_STATE_HEADER, state);
  return h;
}

/** An error reply on a plain subscription, in the same headers the service framework uses. */
function respondWithError(msg: Pick<Msg, 'respond'>, e: CriusError): void {
  const h = natsHeaders();
  h.set(ERROR_CODE_HEADER, String(e.code));
  h.set(ERROR_MESSAGE_HEADER, headerText(e.message));
  msg.respond(new Uint8Array(), { headers: h });
}

function causeText(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : undefined;
}

/** Streamed list replies: the items in pages, so no message nears the size limit. */
export async function* pages<T, R>(items: readonly T[], wrap: (page: T[]) => R, size = 500): AsyncGenerator<R> {
  for (let i = 0; i < items.length; i += size) yield wrap(items.slice(i, i + size));
}
