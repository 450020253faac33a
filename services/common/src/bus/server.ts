// Serves a service's bus methods with the NATS service framework (queue group
// = the service name, discovery via $SRV.*). Every handler is awaited inside
// one try/catch, so a thrown or rejected error always becomes an error reply
// with a gRPC code, never silence. Deadlines and request ids come from headers.
import { headers as natsHeaders, type NatsConnection, type Service, type ServiceMsg } from 'nats';
import type { Logger } from 'pino';
import { DeadlineExceededError, UnimplementedError, toCriusError } from '../errors.js';
import { encode, type MessageCodec } from './codec.js';
import { DEADLINE_HEADER, REQUEST_ID_HEADER, STREAM_END_HEADER } from './headers.js';
import { SUBJECT_ROOT, isReadMethod, processName, type ServiceName } from './subjects.js';

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
  const group = srv.addGroup(`${SUBJECT_ROOT}.${opts.service}`);
  for (const [method, endpoint] of Object.entries(opts.endpoints)) {
    group.addEndpoint(method, (err, msg) => {
      if (err) return;
      void dispatch(msg, method, endpoint, opts);
    });
  }
  for (const method of opts.unimplemented ?? []) {
    if (method in opts.endpoints) continue;
    group.addEndpoint(method, (err, msg) => {
      if (err) return;
      const e = new UnimplementedError(`${processName(opts.service)} does not implement ${method} yet`);
      msg.respondError(e.code, e.message);
    });
  }
  return srv;
}

async function dispatch(msg: ServiceMsg, method: string, endpoint: BusEndpoint, opts: ServeOptions): Promise<void> {
  const requestId = msg.headers?.get(REQUEST_ID_HEADER) || '';
  const deadlineText = msg.headers?.get(DEADLINE_HEADER);
  const deadline = deadlineText ? Number(deadlineText) : undefined;
  let child: Logger | undefined;
  const logger = () => (child ??= opts.log.child({ method, ...(requestId ? { requestId } : {}) }));
  const controller = new AbortController();
  const timer = deadline !== undefined ? setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now())) : undefined;
  const started = performance.now();
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
    } else {
      for await (const item of endpoint.handle(request, ctx)) msg.respond(encode(endpoint.res, item));
      const end = natsHeaders();
      end.set(STREAM_END_HEADER, '1');
      msg.respond(new Uint8Array(), { headers: end });
    }
    const ms = +(performance.now() - started).toFixed(3);
    if (!isReadMethod(method)) logger().info({ ms }, 'served');
    else if (opts.log.isLevelEnabled('debug')) logger().debug({ ms }, 'served');
  } catch (err) {
    const e = toCriusError(err);
    logger().warn({ code: e.code, err: e.message, cause: causeText(err) }, 'failed');
    msg.respondError(e.code, e.message);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function causeText(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : undefined;
}

/** Streamed list replies: the items in pages, so no message nears the size limit. */
export async function* pages<T, R>(items: readonly T[], wrap: (page: T[]) => R, size = 500): AsyncGenerator<R> {
  for (let i = 0; i < items.length; i += size) yield wrap(items.slice(i, i + size));
}
