// Writes what nats-server and every bus user need for one launch: a fresh
// nkey per bus user (seed files mode 0600 in a 0700 directory) and the server
// config with their public keys and the permissions of common/bus/grants.ts.
// `crius up` runs every service as root, so root owns every seed here: the
// per-user ownership is the installed units' (crius install). Password files
// of older versions (<user>.json) are removed.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BUS_USERS, credentialsDir, natsServerConfig, newCredential, writeCredential, writeFileAtomic, type BusGrants, type BusUser, type CriusConfig } from '@crius/common';

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Returns the path of the nats-server config file. `grants` is for tests of the bus contract only. */
export async function writeBusConfig(cfg: CriusConfig, grants?: Record<BusUser, BusGrants>): Promise<string> {
  const dir = credentialsDir(cfg);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const credentials = BUS_USERS.map((user) => newCredential(user));
  for (const c of credentials) await writeCredential(dir, c);
  const { host, port } = splitAddress(cfg.bus.address);
  const conf = path.join(dir, 'nats-server.conf');
  const text = natsServerConfig({ host, port, maxPayloadBytes: cfg.api.max_msg_size, users: credentials, ...(grants ? { grants } : {}) });
  await writeFileAtomic(conf, text, 0o600);
  return conf;
}
