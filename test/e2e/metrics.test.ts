// The Prometheus endpoint: per-RPC latency and errors from the gateway,
// service up/down, and monitor-svc's runtime metrics, in one scrape.
import { describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import { useStack, type TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';

let s: TestStack;
let client: Client;

useStack((stack, c) => {
  s = stack;
  client = c;
});

const scrape = async () => (await fetch(`http://${s.config.api.metrics_address}/metrics`)).text();
const value = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.split(' ')[1]);

describe('metrics endpoint', () => {
  it('counts calls, errors and services, and includes monitor-svc metrics', async () => {
    for (let i = 0; i < 3; i++) await callCri(client, 'Version', { version: 'v1' });
    await callCri(client, 'ContainerStatus', { containerId: 'nope' });
    const text = await scrape();
    expect(value(text, 'crius_cri_request_duration_seconds_count{method="Version",code="OK"}')).toBe(3);
    expect(value(text, 'crius_cri_request_errors_total{method="ContainerStatus",code="NOT_FOUND"}')).toBe(1);
    for (const svc of ['image-svc', 'storage-svc', 'runtime-svc', 'network-svc', 'monitor-svc']) {
      expect(value(text, `crius_service_up{service="${svc}"}`)).toBe(1);
    }
    expect(text).toMatch(/^crius_containers\{state="running"\} 0$/m);
    expect(text).toContain('# TYPE crius_container_oom_events_total counter');
  });

  it('reports a stopped service as down', async () => {
    await s.stack.children.get('storage-svc')!.stop();
    try {
      expect(value(await scrape(), 'crius_service_up{service="storage-svc"}')).toBe(0);
    } finally {
      s.stack.children.get('storage-svc')!.start();
      await s.stack.waitHealthy('storage', Date.now() + 15_000);
    }
  });

  it('answers 404 off the metrics path', async () => {
    expect((await fetch(`http://${s.config.api.metrics_address}/other`)).status).toBe(404);
  });
});
