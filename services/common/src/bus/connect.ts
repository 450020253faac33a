// Connects a bus user to nats-server with the credentials the launcher (or
// the installer) wrote for it, readable only by that user.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { UnavailableError } from '../errors.js';
import { inboxPrefix, type BusUser } from './subjects.js';
import type { BusCredential } from './permissions.js';

export interface ConnectOptions {
  /** host:port of nats-server. */
  address: string;
  user: BusUser;
  credentialsDir: string;
  name?: string;
  /** Keep retrying forever (services) or fail fast (CLI, tests). */
  reconnect?: boolean;
}

export function credentialFile(dir: string, user: BusUser): string {
  return path.join(dir, `${user}.json`);
}

export async function readCredential(dir: string, user: BusUser): Promise<BusCredential> {
  const file = credentialFile(dir, user);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<BusCredential>;
  if (parsed.user !== user || typeof parsed.password !== 'string') throw new Error(`bus credential file ${file} is malformed`);
  return parsed as BusCredential;
}

export async function connectBus(opts: ConnectOptions): Promise<NatsConnection> {
  const cred = await readCredential(opts.credentialsDir, opts.user);
  try {
    return await connect({
      servers: opts.address,
      user: cred.user,
      pass: cred.password,
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
