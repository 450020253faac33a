// Subject names of the crius bus: one place builds them so every service and
// the NATS permissions agree. Contract: crius.v1.<service>.<Method> for
// requests (crius.v1.<service>.<Method>._next.<instance> for the next item of a
// streamed reply), crius.v1.events.<kind>.<id> for events, and
// crius.v1.pipe.<callee>.<caller>.<sid>.up|down for the byte pipes of exec,
// attach and port-forward sessions.

export const SUBJECT_ROOT = 'crius.v1';
export const EVENTS_ROOT = `${SUBJECT_ROOT}.events`;
/** Byte pipes of streaming sessions: `<root>.<callee>.<caller>.<sid>.up` (caller → callee) and `.down`. */
export const PIPES_ROOT = `${SUBJECT_ROOT}.pipe`;
/** The token after a method's subject that asks for the next item of its streamed reply. */
export const NEXT_ITEM_TOKEN = '_next';

/** The services on the bus; the process of each is named `<name>-svc`. */
export const SERVICES = ['image', 'storage', 'runtime', 'network', 'monitor'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Every bus participant with its own NATS identity. */
export const BUS_USERS = ['gateway', ...SERVICES, 'launcher', 'observer'] as const;
export type BusUser = (typeof BUS_USERS)[number];

/** Event kinds and who may publish them (one publisher kind each where possible). */
/** 'pull' carries per-layer pull progress; 'image' carries finished pulls. */
export const EVENT_KINDS = ['container', 'sandbox', 'image', 'pull', 'network', 'oom'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Reads (logged at debug) versus mutations (info), by method name: one rule for the gateway and every service. */
const READ_METHOD = /^(List|Get|Stream|Health)|(Status|Stats|FsInfo|Info|Config|Version|Metrics|Descriptors)$/;

export function isReadMethod(method: string): boolean {
  return READ_METHOD.test(method);
}

export function requestSubject(service: ServiceName, method: string): string {
  if (!TOKEN.test(method)) throw new Error(`bad bus method name ${JSON.stringify(method)}`);
  return `${SUBJECT_ROOT}.${service}.${method}`;
}

/** Where a serving instance takes "next item" requests of a method's streamed replies. */
export function nextItemSubject(service: ServiceName, method: string, instance: string): string {
  return `${requestSubject(service, method)}.${NEXT_ITEM_TOKEN}.${instance}`;
}

/** Event subject; ids are made subject-safe (no dots or wildcards). */
export function eventSubject(kind: EventKind, id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
  return `${EVENTS_ROOT}.${kind}.${safe}`;
}

/** The two ends of a streaming session and its id (128 random bits, hex). */
export interface PipeAddress {
  /** The service running the session. */
  callee: ServiceName;
  /** The bus user that asked for it (the gateway). */
  caller: BusUser;
  sid: string;
}

/** A streaming session's subject in one direction: up is caller → callee, down the reverse. */
export function pipeSubject(addr: PipeAddress, direction: 'up' | 'down'): string {
  if (!/^[0-9a-f]{32}$/.test(addr.sid)) throw new Error(`bad stream session id ${JSON.stringify(addr.sid)}`);
  if (!(SERVICES as readonly string[]).includes(addr.callee)) throw new Error(`bad stream session callee ${JSON.stringify(addr.callee)}`);
  if (!(BUS_USERS as readonly string[]).includes(addr.caller)) throw new Error(`bad stream session caller ${JSON.stringify(addr.caller)}`);
  return `${PIPES_ROOT}.${addr.callee}.${addr.caller}.${addr.sid}.${direction}`;
}

export function inboxPrefix(user: BusUser): string {
  return `_INBOX_${user}`;
}

export function processName(service: ServiceName): string {
  return `${service}-svc`;
}
