// The nats-server users of the crius bus, generated from the grants table
// (grants.ts): each user may publish exactly the method subjects it calls and
// the events it owns, and subscribe to its own inbox, the events it reads and,
// for a service, its own methods in its queue group. The launcher (`crius up`)
// and the installer write the server config from natsServerConfig(); users
// authenticate with nkeys, so the config holds public keys only.
import { GRANTS, PIPE_METHODS, mayCall, pipeCallers, type BusGrants } from './grants.js';
import { EVENTS_ROOT, NEXT_ITEM_TOKEN, PIPES_ROOT, SERVICES, SUBJECT_ROOT, inboxPrefix, processName, requestSubject, type BusUser, type ServiceName } from './subjects.js';

export interface UserPermissions {
  publish: string[];
  /** Subjects, or "<subject> <queue group>" where only that queue group may subscribe. */
  subscribe: string[];
  /** True when the user answers requests (may publish to the requester's reply subject). */
  responder: boolean;
}

function isService(user: BusUser): user is ServiceName {
  return (SERVICES as readonly string[]).includes(user);
}

/** Pipe subjects of sessions between caller and callee: `<root>.<callee>.<caller>.<sid>.<direction>`. */
function pipePattern(callee: ServiceName, caller: BusUser, direction: 'up' | 'down'): string {
  return `${PIPES_ROOT}.${callee}.${caller}.*.${direction}`;
}

export function permissionsFor(user: BusUser, grants: Record<BusUser, BusGrants> = GRANTS): UserPermissions {
  const g = grants[user];
  const publish: string[] = [];
  const subscribe = [`${inboxPrefix(user)}.>`];
  for (const [service, methods] of Object.entries(g.calls) as [ServiceName, readonly string[]][]) {
    for (const method of methods) {
      // The request, and the next items of its reply when it streams (bus/server.ts).
      publish.push(requestSubject(service, method), `${requestSubject(service, method)}.${NEXT_ITEM_TOKEN}.*`);
    }
    if (PIPE_METHODS[service].some((m) => mayCall(user, service, m, grants))) {
      publish.push(pipePattern(service, user, 'up'));
      subscribe.push(pipePattern(service, user, 'down'));
    }
  }
  for (const kind of g.publishes) publish.push(`${EVENTS_ROOT}.${kind}.*`);
  if (g.reads === 'all') subscribe.push(`${EVENTS_ROOT}.>`);
  else for (const kind of g.reads) subscribe.push(`${EVENTS_ROOT}.${kind}.>`);
  if (g.discovery) publish.push('$SRV.>');
  if (isService(user)) {
    // Its own methods only in its own queue group; next-item requests on this instance's subjects.
    subscribe.push(`${SUBJECT_ROOT}.${user}.* ${user}`, `${SUBJECT_ROOT}.${user}.*.${NEXT_ITEM_TOKEN}.*`);
    // Discovery of the NATS service framework: all services, this kind, this instance.
    const name = processName(user);
    subscribe.push('$SRV.*', `$SRV.*.${name}`, `$SRV.*.${name}.*`);
    for (const caller of pipeCallers(user, grants)) {
      publish.push(pipePattern(user, caller, 'down'));
      subscribe.push(pipePattern(user, caller, 'up'));
    }
  }
  return { publish, subscribe, responder: isService(user) };
}

/** How long a responder may take to answer one request (longer than any bus call may run). */
export const RESPONSE_PERMISSION_EXPIRY = '1h';

/** A bus user as the server knows it: its nkey's public key. */
export interface BusUserKey {
  user: BusUser;
  publicKey: string;
}

export interface NatsServerConfigOptions {
  host: string;
  port: number;
  maxPayloadBytes: number;
  users: readonly BusUserKey[];
  /** Defaults to the production table; tests of the bus contract add their own methods. */
  grants?: Record<BusUser, BusGrants>;
}

/** A subject nobody serves: nats-server reads an empty allow list as "allow everything". */
const NOTHING = '_crius_nothing_';

/**
 * A nats-server config (NATS config syntax: JSON values, `#` comments naming
 * each nkey's bus user). Public keys only: the seeds stay in the users' files.
 */
export function natsServerConfig(opts: NatsServerConfigOptions): string {
  const users = opts.users.map(({ user, publicKey }) => {
    if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error(`bus user ${user}: ${JSON.stringify(publicKey)} is not an nkey user public key`);
    const p = permissionsFor(user, opts.grants);
    const entry = {
      nkey: publicKey,
      permissions: {
        publish: { allow: p.publish.length ? p.publish : [NOTHING] },
        subscribe: { allow: p.subscribe },
        // One reply per request (streams too: see bus/server.ts), so nats-server drops each
        // reply permission as soon as it is used. The expiry only bounds requests never
        // answered; it outlasts the longest call (bus.request_timeout).
        ...(p.responder ? { allow_responses: { max: 1, expires: RESPONSE_PERMISSION_EXPIRY } } : {}),
      },
    };
    return `    # ${user}\n    ${JSON.stringify(entry)}`;
  });
  return [
    '# crius bus: generated from services/common/src/bus/grants.ts; do not edit.',
    '# No cluster, gateway, leafnode or monitoring listeners: loopback bus only.',
    `host: ${JSON.stringify(opts.host)}`,
    `port: ${opts.port}`,
    `max_payload: ${opts.maxPayloadBytes}`,
    'authorization: {',
    '  users: [',
    users.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
