// cri-gateway process: the CRI socket in front of the bus. It keeps no
// container state: every call goes to the service that owns it.
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BusClient, connectBus, createLogger, credentialsDir, loadConfig, watchRefusals } from '@crius/common';
import { buildServer, listen } from './server.js';
import { observeCalls } from './instrument.js';
import { GatewayMetrics, serveMetrics } from './metrics.js';
import { StreamingServer } from './streaming/index.js';
import { BusStreamingBackend } from './streaming/bus-backend.js';

export const GATEWAY_VERSION = '0.1.0';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  const config = loadConfig(values.config);
  const log = createLogger('cri-gateway', config.log.level);
  const nc = await connectBus({ address: config.bus.address, user: 'gateway', credentialsDir: credentialsDir(config), name: 'cri-gateway' });
  watchRefusals(nc, log);
  const bus = new BusClient(nc, { defaultTimeoutMs: config.bus.request_timeout * 1000 });
  const streaming = new StreamingServer({ backend: new BusStreamingBackend(bus), ...listenAddress(config.api.streaming_address), log: log.child({ component: 'streaming' }) });
  await streaming.start();
  const server = buildServer({ bus, config, log, runtimeVersion: GATEWAY_VERSION, streaming });
  const metrics = new GatewayMetrics();
  observeCalls((method, seconds, err) => metrics.observe(method, seconds, err));
  const metricsServer = serveMetrics(config.api.metrics_address, metrics, bus, log);

  const socket = config.api.listen;
  await mkdir(path.dirname(socket), { recursive: true });
  await rm(socket, { force: true });
  const listener = await listen(server, socket, log);
  await chmod(socket, parseInt(config.api.socket_mode, 8));
  if (config.api.socket_group) await chown(socket, process.getuid?.() ?? 0, groupId(config.api.socket_group));
  log.info({ socket, bus: config.bus.address }, 'ready');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    metricsServer?.close();
    void streaming.stop();
    void listener.close();
    const force = setTimeout(() => server.forceShutdown(), 5000);
    server.tryShutdown(async () => {
      clearTimeout(force);
      await nc.drain().catch(() => undefined);
      await rm(socket, { force: true });
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** "host:port" or "[v6]:port" of the streaming server. */
function listenAddress(addr: string): { address: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`api.streaming_address ${JSON.stringify(addr)} is not host:port`);
  return { address: m[1]!, port: Number(m[2]) };
}

function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = execFileSync('getent', ['group', group], { encoding: 'utf8' });
  return Number(line.split(':')[2]);
}

main().catch((err) => {
  process.stderr.write(`cri-gateway: ${(err as Error).message}\n`);
  process.exit(1);
});
