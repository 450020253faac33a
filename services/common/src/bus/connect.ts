// Connects a bus user to nats-server with its nkey (the seed file the
// launcher or the installer wrote for it, readable only by that user), and
// reports what the server refuses it: a permission violation means code
// called something the grants table (grants.ts) does not grant.
import { Events, connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors.js';
import { readCredential } from './credentials.js';
import { inboxPrefix, type BusUser } from './subjects.js';

export interface ConnectOptions {
  /** host:port of nats-server. */
  address: string;
  user: BusUser;
  credentialsDir: string;
  name?: string;
  /** Keep retrying forever (services) or fail fast (CLI, tests). */
  reconnect?: boolean;
}

export async function connectBus(opts: ConnectOptions): Promise<NatsConnection> {
  const cred = await readCredential(opts.credentialsDir, opts.user);
  try {
    return await connect({
      servers: opts.address,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(cred.seed)),
      name: opts.name ?? opts.user,
      inboxPrefix: inboxPrefix(opts.user),
      reconnect: opts.reconnect ?? true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: opts.reconnect ?? true,
      timeout: 5000,
      // No stack captured per request to decorate a failure: ours are mapped to crius
      // errors naming service and method anyway, and the capture costs on every call.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new UnavailableError(`cannot connect to the bus at ${opts.address} as ${opts.user}: ${(err as Error).message}`, { cause: err });
  }
}

/** What nats-server refused a connection (from its "Permissions Violation for …" error). */
export interface BusRefusal {
  operation: 'publish' | 'subscription';
  subject: string;
  queue?: string;
}

/**
 * Logs every permission violation of this connection at error level (they are
 * bugs: a call the grants table does not grant) and hands each to `onRefused`.
 * Runs until the connection closes.
 */
export function watchRefusals(nc: NatsConnection, log: Logger, onRefused?: (r: BusRefusal) => void): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== Events.Error || s.data !== 'PERMISSIONS_VIOLATION') continue;
      const ctx = (s as { permissionContext?: BusRefusal }).permissionContext;
      if (!ctx) continue;
      log.error({ operation: ctx.operation, subject: ctx.subject, ...(ctx.queue ? { queue: ctx.queue } : {}) }, 'bus permission violation (not granted in services/common/src/bus/grants.ts)');
      onRefused?.(ctx);
    }
  })();
}
