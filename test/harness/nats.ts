// A private nats-server for bus tests, configured with the real crius users
// and permissions; killed by PID and its files removed afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { connectBus, parseConfig, type BusUser, type CriusConfig } from '@crius/common';
import { writeBusConfig } from '../../services/cli/src/launcher/bus-config.js';
import { freePort } from './stack.js';

export interface TestNats {
  config: CriusConfig;
  connect(user: BusUser): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startNats(): Promise<TestNats> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-nats-'));
  const port = await freePort();
  const config = parseConfig(`[state]\nroot = "${dir}/lib"\nrun_root = "${dir}/run"\n[bus]\naddress = "127.0.0.1:${port}"\n`);
  const conf = await writeBusConfig(config);
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
    async connect(user) {
      const nc = await connectBus({ address: config.bus.address, user, credentialsDir: path.join(dir, 'run', 'bus'), reconnect: false });
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
