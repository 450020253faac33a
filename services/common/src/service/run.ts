// The life of every service process: read config, connect to the bus with its
// own credentials, recover its state (start), then serve Health and its
// methods; on SIGTERM stop taking requests, drain and exit. Methods a service
// owns but has not implemented answer UNIMPLEMENTED naming the service.
import { parseArgs } from 'node:util';
import type { NatsConnection, Service } from 'nats';
import { BusClient } from '../bus/client.js';
import { connectBus, watchRefusals } from '../bus/connect.js';
import { methodsOwnedBy } from '../bus/routes.js';
import { serveBus, unary, type BusEndpoint } from '../bus/server.js';
import { processName, type ServiceName } from '../bus/subjects.js';
import { credentialsDir, loadConfig, serviceDirs, type CriusConfig } from '../config/load.js';
import { HealthRequest, HealthResponse, type Condition } from '../gen/crius/v1/health.js';
import { createLogger, type Logger } from '../log.js';

export interface ServiceContext {
  config: CriusConfig;
  log: Logger;
  bus: BusClient;
  nc: NatsConnection;
  /** This service's durable and volatile directories. */
  dirs: { state: string; run: string };
}

export interface RunningService {
  endpoints: Record<string, BusEndpoint>;
  /** Conditions reported in Health (e.g. NetworkReady). */
  conditions?: () => Promise<Condition[]> | Condition[];
  stop?: () => Promise<void>;
}

export interface ServiceDefinition {
  name: ServiceName;
  version: string;
  /** Checks made before anything else (e.g. refusing to run as root); throw to refuse to start. */
  preflight?(config: CriusConfig): void;
  /** Recover state and build the implementation; the service is not reachable until this resolves. */
  start(ctx: ServiceContext): Promise<RunningService>;
}

export async function runService(def: ServiceDefinition, argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
  const config = loadConfig(values.config);
  const log = createLogger(processName(def.name), config.log.level);
  def.preflight?.(config);
  const startedAt = BigInt(Date.now()) * 1_000_000n;
  const nc = await connectBus({
    address: config.bus.address,
    user: def.name,
    credentialsDir: credentialsDir(config),
    name: processName(def.name),
  });
  watchRefusals(nc, log);
  const bus = new BusClient(nc, { defaultTimeoutMs: config.bus.request_timeout * 1000 });
  const running = await def.start({ config, log, bus, nc, dirs: serviceDirs(config, def.name) });

  const health = unary(HealthRequest, HealthResponse, async () =>
    HealthResponse.fromPartial({
      service: def.name,
      ready: true,
      version: def.version,
      startedAt,
      pid: process.pid,
      conditions: running.conditions ? await running.conditions() : [],
    }),
  );
  const srv: Service = await serveBus(nc, {
    service: def.name,
    version: def.version,
    log,
    endpoints: { ...running.endpoints, Health: health },
    unimplemented: methodsOwnedBy(def.name),
  });
  log.info({ bus: config.bus.address, methods: Object.keys(running.endpoints).length }, 'ready');

  let stopping = false;
  // The service framework stops when a subscription is refused (another user's
  // credentials, a table that does not let this service serve): not serving is fatal.
  void srv.stopped.then((err) => {
    if (stopping || !err) return;
    log.fatal({ err: (err as Error).message }, 'stopped serving its bus methods');
    process.exit(1);
  });
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      await srv.stop();
      await running.stop?.();
      await nc.drain();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'unclean stop');
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  void nc.closed().then((err) => {
    if (stopping) return;
    log.fatal({ err: err?.message }, 'bus connection closed');
    process.exit(1);
  });
}
