// The one wrapper around every CRI call: request id, logging (mutations at
// info, reads at debug), and the single mapping of crius errors to gRPC
// status. Handlers only validate, send one bus request and map the reply.
import { randomUUID } from 'node:crypto';
import { status as GrpcStatus, type ServiceError, Metadata } from '@grpc/grpc-js';
import { isReadMethod, toCriusError, type Logger } from '@crius/common';

export interface CallContext {
  method: string;
  requestId: string;
  /** Absolute deadline (epoch ms) from the gRPC caller; undefined when it set none. */
  deadline?: number;
  /** Child logger with method and request id, made on first use (hot path stays cheap). */
  readonly log: Logger;
  /** Whether debug lines are wanted at all (decided without making the child). */
  debug: boolean;
}


export function newContext(method: string, deadline: Date | number, log: Logger): CallContext {
  const requestId = randomUUID().slice(0, 13);
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  let child: Logger | undefined;
  return {
    method,
    requestId,
    deadline: Number.isFinite(ms) ? ms : undefined,
    debug: log.isLevelEnabled('debug'),
    get log() {
      return (child ??= log.child({ method, requestId }));
    },
  };
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = toCriusError(err);
  return { code: e.code as unknown as GrpcStatus, details: e.message, metadata: new Metadata() };
}

/** Called with every finished call (the metrics hook). */
export type CallObserver = (method: string, seconds: number, err?: unknown) => void;
let observer: CallObserver | undefined;
export function observeCalls(fn: CallObserver): void {
  observer = fn;
}

/** Log the end of a call at the level its kind deserves, and count it. */
export function logOutcome(ctx: CallContext, started: number, err?: unknown): void {
  const ms = +(performance.now() - started).toFixed(3);
  observer?.(ctx.method, ms / 1000, err);
  if (err) {
    const e = toCriusError(err);
    ctx.log.warn({ ms, code: e.code, err: e.message }, 'failed');
  } else if (isReadMethod(ctx.method)) {
    if (ctx.debug) ctx.log.debug({ ms }, 'ok');
  } else {
    ctx.log.info({ ms }, 'ok');
  }
}
