// The Prometheus endpoint (api.metrics_address): the gateway's per-RPC
// latency histograms and error counts, the services' up/down, and what
// monitor-svc adds (containers by state, OOMs, exits, pulls), fetched over
// the bus at scrape time. Loopback only by default; empty address = off.
import http from 'node:http';
import { Counter, Histogram, Gauge, Registry } from 'prom-client';
import { SERVICES, codeName, processName, toCriusError, type BusClient, type Logger } from '@crius/common';
import { MetricsRequest, MetricsResponse } from '@crius/common/proto/metrics';
import { collectHealth } from './rpc/status.js';

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly duration = new Histogram({
    name: 'crius_cri_request_duration_seconds',
    help: 'Latency of CRI calls at the gateway, by method and gRPC code.',
    labelNames: ['method', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'crius_cri_request_errors_total',
    help: 'CRI calls that ended with an error, by method and gRPC code.',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });
  private readonly up = new Gauge({
    name: 'crius_service_up',
    help: '1 when the service answered its health check at scrape time.',
    labelNames: ['service'],
    registers: [this.registry],
  });

  observe(method: string, seconds: number, err?: unknown): void {
    const code = codeName(err ? toCriusError(err).code : 0);
    this.duration.observe({ method, code }, seconds);
    if (err) this.errors.inc({ method, code });
  }

  async scrape(bus: BusClient): Promise<string> {
    const health = await collectHealth(bus);
    for (const h of health) this.up.set({ service: processName(h.service) }, h.health?.ready ? 1 : 0);
    let monitorText = '';
    if (health.find((h) => h.service === 'monitor')?.health) {
      monitorText = await bus
        .call('monitor', 'Metrics', MetricsRequest, MetricsResponse, {}, { deadline: Date.now() + 3000 })
        .then((r) => r.text)
        .catch(() => '');
    }
    return (await this.registry.metrics()) + monitorText;
  }
}

export function serveMetrics(address: string, metrics: GatewayMetrics, bus: BusClient, log: Logger): http.Server | undefined {
  if (!address) return undefined;
  const i = address.lastIndexOf(':');
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    metrics.scrape(bus).then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (err) => res.writeHead(500).end(`${(err as Error).message}\n`),
    );
  });
  server.on('error', (err) => log.error({ address, err: err.message }, 'metrics endpoint failed'));
  server.listen(Number(address.slice(i + 1)), address.slice(0, i));
  log.info({ address, services: SERVICES.length }, 'metrics endpoint listening');
  return server;
}
