// ListPodSandboxMetrics against the api.proto contract: per pod its pod_sandbox_id, metrics and
// container_metrics; every metric name "must match a name previously returned in a
// MetricDescriptors call"; label_values line up with that descriptor's label_keys (the same
// length); the container metrics name the pod's containers.
import { describe, expect, it } from 'vitest';
import { MetricType, type ListMetricDescriptorsResponse, type ListPodSandboxMetricsResponse, type Metric, type MetricDescriptor } from '@crius/common/cri';
import { ok } from './helpers.js';
import { runContainer, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const metrics = async () => (await ok<ListPodSandboxMetricsResponse>(env.client, 'ListPodSandboxMetrics', Buffer.alloc(0))).podMetrics;

function checkMetrics(list: Metric[], byName: Map<string, MetricDescriptor>, where: string): void {
  for (const m of list) {
    const d = byName.get(m.name);
    expect(d, `${where}: ${m.name} is described`).toBeDefined();
    expect(m.labelValues.length, `${where}: ${m.name} labels`).toBe(d!.labelKeys.length);
    expect([MetricType.COUNTER, MetricType.GAUGE]).toContain(m.metricType);
    expect(m.value, `${where}: ${m.name} value`).toBeDefined();
  }
}

describe('ListPodSandboxMetrics', () => {
  it('the request (no fields) with no pod: an empty list', async () => {
    expect(await metrics()).toEqual([]);
  });

  it('every pod once, its containers\' metrics, every metric described and its labels lined up', async () => {
    const pod = await runPod(env);
    const a = await runContainer(env, pod, 'a', ['sleep', '3600']);
    const b = await runContainer(env, pod, 'b', ['sleep', '3600']);
    const bare = await runMinimalPod(env);
    const byName = new Map((await ok<ListMetricDescriptorsResponse>(env.client, 'ListMetricDescriptors', Buffer.alloc(0))).descriptors.map((d) => [d.name, d]));
    const list = await metrics();
    expect(list.map((p) => p.podSandboxId).sort()).toEqual([pod.id, bare.id].sort());
    const mine = list.find((p) => p.podSandboxId === pod.id)!;
    expect(mine.containerMetrics.map((c) => c.containerId).sort()).toEqual([a, b].sort());
    checkMetrics(mine.metrics, byName, 'pod');
    for (const c of mine.containerMetrics) {
      expect(c.metrics.length, c.containerId).toBeGreaterThan(0);
      checkMetrics(c.metrics, byName, c.containerId);
      expect(c.metrics.map((m) => m.name), c.containerId).toContain('container_memory_working_set_bytes');
      const ws = c.metrics.find((m) => m.name === 'container_memory_working_set_bytes')!;
      expect(ws.value!.value, c.containerId).toBeGreaterThan(0n);
    }
    expect(list.find((p) => p.podSandboxId === bare.id)!.containerMetrics).toEqual([]);
  });
});
