// A private nats-server for bus tests, configured as `crius up` configures
// it (the production users, nkeys and permissions; tests of the bus contract
// may add methods of their own to the grants table); killed by PID and its
// files removed afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { connectBus, credentialsDir, parseConfig, type BusGrants, type BusUser, type CriusConfig } from '@crius/common';
import { writeBusConfig } from '../../services/cli/src/launcher/bus-config.js';
import { freePort } from './stack.js';

export interface TestNats {
  config: CriusConfig;
  /** The seed files, one per bus user. */
  credentialsDir: string;
  /** The config file nats-server runs with. */
  configFile: string;
  connect(user: BusUser): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startNats(grants?: Record<BusUser, BusGrants>): Promise<TestNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-nats-'));
  const port = await freePort();
  const config = parseConfig(`[state]\nroot = "${dir}/lib"\nrun_root = "${dir}/run"\n[bus]\naddress = "127.0.0.1:${port}"\n`);
  const conf = await writeBusConfig(config, grants);
  const child: ChildProcess = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const conns: NatsConnection[] = [];
  return {
    config,
    credentialsDir: credentialsDir(config),
    configFile: conf,
    async connect(user) {
      const nc = await connectBus({ address: config.bus.address, user, credentialsDir: credentialsDir(config), reconnect: false });
      conns.push(nc);
      return nc;
    },
    async stop() {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
