// Writes what nats-server and every bus user need for one launch: a fresh
// random password per user (files mode 0600) and the server config with the
// permissions of common/bus/permissions.ts.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUS_USERS, credentialFile, credentialsDir, natsServerConfig, type BusCredential, type CriusConfig } from '@crius/common';

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Returns the path of the nats-server config file. */
export async function writeBusConfig(cfg: CriusConfig): Promise<string> {
  const dir = credentialsDir(cfg);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const credentials: BusCredential[] = BUS_USERS.map((user) => ({ user, password: randomBytes(18).toString('base64url') }));
  for (const c of credentials) {
    const file = credentialFile(dir, c.user);
    await writeFile(file, JSON.stringify(c) + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
  }
  const { host, port } = splitAddress(cfg.bus.address);
  const conf = path.join(dir, 'nats-server.conf');
  await writeFile(conf, natsServerConfig({ host, port, maxPayloadBytes: cfg.api.max_msg_size, credentials }), { mode: 0o600 });
  return conf;
}
