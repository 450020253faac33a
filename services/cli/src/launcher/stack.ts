// The whole crius stack on one node, as supervised children: nats-server
// with one user per bus participant, then every service, then the gateway.
// Stops in the reverse order. Used by `crius up` and by the tests.
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from 'nats';
import {
  BusClient,
  SERVICES,
  connectBus,
  credentialsDir,
  processName,
  type CriusConfig,
  type ServiceName,
} from '@crius/common';
import { HealthRequest, HealthResponse } from '@crius/common/proto/health';
import { Supervised } from './supervisor.js';
import { splitAddress, writeBusConfig } from './bus-config.js';
import { installDefaultNetwork } from './default-network.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface StackOptions {
  config: CriusConfig;
  /** Config file the children read; undefined means their default lookup. */
  configPath?: string;
  logDir?: string;
  onLog?: (line: string) => void;
}

export function serviceEntry(service: ServiceName | 'gateway'): string {
  const dir = service === 'gateway' ? 'cri-gateway' : processName(service);
  return path.join(REPO_ROOT, 'services', dir, 'dist', 'main.js');
}

export class Stack {
  readonly children = new Map<string, Supervised>();
  private launcherBus?: NatsConnection;
  /** Set by stop()/kill(): a start still under way spawns nothing more. */
  private stopped = false;
  readonly logDir: string;

  constructor(readonly opts: StackOptions) {
    this.logDir = opts.logDir ?? path.join(opts.config.state.run_root, 'logs');
  }

  private log(line: string): void {
    this.opts.onLog?.(line);
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await mkdir(this.logDir, { recursive: true });
    await installDefaultNetwork(this.opts.config, (l) => this.log(l));
    const natsConf = await writeBusConfig(this.opts.config);
    const nats = this.spawn('nats', this.opts.config.bus.server_binary, ['-c', natsConf]);
    const { host, port } = splitAddress(this.opts.config.bus.address);
    await waitFor(() => canConnect(host, port), deadline, `nats-server on ${this.opts.config.bus.address} (log: ${nats.spec.logFile})`);
    this.launcherBus = await connectBus({
      address: this.opts.config.bus.address,
      user: 'launcher',
      credentialsDir: credentialsDir(this.opts.config),
      name: 'crius-launcher',
    });
    for (const s of SERVICES) this.spawnNode(processName(s), serviceEntry(s));
    await Promise.all(SERVICES.map((s) => this.waitHealthy(s, deadline)));
    this.spawnNode('cri-gateway', serviceEntry('gateway'));
    await waitFor(() => canConnectUnix(this.opts.config.api.listen), deadline, `cri-gateway socket ${this.opts.config.api.listen}`);
  }

  /** Every child SIGKILLed at once, no restarts (the launcher's second Ctrl-C). */
  kill(): void {
    this.stopped = true;
    for (const child of this.children.values()) child.kill();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const order = ['cri-gateway', ...SERVICES.map(processName), 'nats'];
    await this.children.get('cri-gateway')?.stop();
    await Promise.all(SERVICES.map((s) => this.children.get(processName(s))?.stop()));
    await this.launcherBus?.close().catch(() => undefined);
    await this.children.get('nats')?.stop();
    for (const name of order) this.children.delete(name);
  }

  /** The launcher's own bus connection (Health, ImportImage). */
  bus(): NatsConnection {
    if (!this.launcherBus) throw new Error('stack is not started');
    return this.launcherBus;
  }

  /** Health of one service through the bus, or the error text. */
  async health(service: ServiceName, timeoutMs = 2000): Promise<HealthResponse> {
    if (!this.launcherBus) throw new Error('stack is not started');
    const bus = new BusClient(this.launcherBus);
    return bus.call(service, 'Health', HealthRequest, HealthResponse, {}, { deadline: Date.now() + timeoutMs });
  }

  async waitHealthy(service: ServiceName, deadline: number): Promise<void> {
    await waitFor(
      async () => (await this.health(service, 1000).catch(() => undefined))?.ready === true,
      deadline,
      `${processName(service)} health (log: ${path.join(this.logDir, `${processName(service)}.log`)})`,
    );
  }

  private spawnNode(name: string, entry: string): Supervised {
    const args = [entry, ...(this.opts.configPath ? ['--config', this.opts.configPath] : [])];
    return this.spawn(name, process.execPath, args);
  }

  private spawn(name: string, command: string, args: string[]): Supervised {
    if (this.stopped) throw new Error(`stack is stopping: ${name} not started`);
    // The development stack runs every service as the caller (root): image-svc must be told that is intended.
    const env = { ...process.env, CRIUS_ALLOW_ROOT: '1', ...(this.opts.configPath ? { CRIUS_CONFIG: this.opts.configPath } : {}) };
    const child = new Supervised({ name, command, args, env, logFile: path.join(this.logDir, `${name}.log`) });
    child.on('log', (line: string) => this.log(line));
    child.start();
    this.children.set(name, child);
    return child;
  }
}

async function waitFor(check: () => Promise<boolean>, deadline: number, what: string): Promise<void> {
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return probe(net.connect({ host, port }));
}

function canConnectUnix(socketPath: string): Promise<boolean> {
  return probe(net.connect({ path: socketPath }));
}

function probe(sock: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
