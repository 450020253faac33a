// Who may say what on the bus: the single source of the NATS users and their
// subject permissions. The launcher writes the nats-server config from it (and
// deploy/ will generate the production config from the same function).
import { EVENTS_ROOT, SERVICES, STREAMS_ROOT, SUBJECT_ROOT, inboxPrefix, requestSubject, serviceSubjects, type BusUser, type EventKind, type ServiceName } from './subjects.js';

/** Which services each bus user may call (ARCHITECTURE.md "may call"). */
export const MAY_CALL: Record<BusUser, readonly ServiceName[]> = {
  gateway: SERVICES,
  image: ['storage'],
  storage: [],
  runtime: ['image', 'storage', 'network'],
  network: [],
  // monitor-svc asks storage-svc for writable-layer usage (stats) read-only.
  monitor: ['runtime', 'storage'],
  launcher: [],
  observer: [],
};

/** Which event kinds each bus user may publish. */
export const MAY_PUBLISH_EVENTS: Record<BusUser, readonly EventKind[]> = {
  gateway: [],
  image: ['image', 'pull'],
  storage: [],
  runtime: ['container', 'sandbox'],
  network: ['network'],
  monitor: ['container', 'oom'],
  launcher: [],
  observer: [],
};

/** Services that run streaming sessions (exec, attach: runtime; port-forward: network). */
const STREAM_SERVERS: ReadonlySet<BusUser> = new Set<BusUser>(['runtime', 'network']);

/** Users that read the event stream (the gateway relays it to GetContainerEvents). */
const EVENT_READERS: ReadonlySet<BusUser> = new Set<BusUser>(['gateway', 'observer', 'monitor']);

export interface UserPermissions {
  publish: string[];
  subscribe: string[];
  /** True when the user answers requests (may publish to the requester's reply subject). */
  responder: boolean;
}

function isService(user: BusUser): user is ServiceName {
  return (SERVICES as readonly string[]).includes(user);
}

export function permissionsFor(user: BusUser): UserPermissions {
  const publish: string[] = MAY_CALL[user].map((s) => serviceSubjects(s));
  for (const kind of MAY_PUBLISH_EVENTS[user]) publish.push(`${EVENTS_ROOT}.${kind}.>`);
  const subscribe = [`${inboxPrefix(user)}.>`];
  if (isService(user)) subscribe.push(serviceSubjects(user), '$SRV.>');
  if (EVENT_READERS.has(user)) subscribe.push(`${EVENTS_ROOT}.>`);
  // Session pipes: the gateway sends up and reads down, a stream server the reverse.
  if (user === 'gateway') {
    publish.push(`${STREAMS_ROOT}.*.up`);
    subscribe.push(`${STREAMS_ROOT}.*.down`);
  }
  if (STREAM_SERVERS.has(user)) {
    publish.push(`${STREAMS_ROOT}.*.down`);
    subscribe.push(`${STREAMS_ROOT}.*.up`);
  }
  // The launcher (crius CLI as root) checks health and loads images from local
  // archives (`crius image import`, the demo); nothing else of any service.
  if (user === 'launcher') publish.push(`${SUBJECT_ROOT}.*.Health`, requestSubject('image', 'ImportImage'));
  return { publish, subscribe, responder: isService(user) };
}

/** How long a responder may take to answer one request (longer than any bus call may run). */
export const RESPONSE_PERMISSION_EXPIRY = '1h';

export interface BusCredential {
  user: BusUser;
  password: string;
}

export interface NatsServerConfigOptions {
  host: string;
  port: number;
  maxPayloadBytes: number;
  credentials: readonly BusCredential[];
}

/** A nats-server config (JSON is valid NATS config syntax). */
export function natsServerConfig(opts: NatsServerConfigOptions): string {
  const users = opts.credentials.map(({ user, password }) => {
    const p = permissionsFor(user);
    return {
      user,
      password,
      permissions: {
        publish: { allow: p.publish.length ? p.publish : ['_crius_nothing_'] },
        subscribe: { allow: p.subscribe },
        // One reply per request (streams too: see bus/server.ts), so nats-server drops each
        // reply permission as soon as it is used. The expiry only bounds requests never
        // answered; it outlasts the longest call (bus.request_timeout).
        ...(p.responder ? { allow_responses: { max: 1, expires: RESPONSE_PERMISSION_EXPIRY } } : {}),
      },
    };
  });
  const config = {
    host: opts.host,
    port: opts.port,
    max_payload: opts.maxPayloadBytes,
    // No cluster, gateway, leafnode or monitoring listeners: loopback bus only.
    authorization: { users },
  };
  return JSON.stringify(config, null, 2) + '\n';
}
