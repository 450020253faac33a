// StreamPodSandboxMetrics against the api.proto contract: results "in lists of at least one item",
// each pod's metrics "in exactly one response", not duplicated, the stream closed with OK (EOF)
// after the last; the same pods as ListPodSandboxMetrics, every metric described.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ListMetricDescriptorsResponse, ListPodSandboxMetricsResponse, PodSandboxMetrics } from '@crius/common/cri';
import { ok, stream } from './helpers.js';
import { runContainer, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const streamMetrics = () => stream<{ podSandboxMetrics: PodSandboxMetrics[] }>(env.client, 'StreamPodSandboxMetrics', Buffer.alloc(0));

describe('StreamPodSandboxMetrics', () => {
  it('the request (no fields) with no pod: no message, then OK', async () => {
    expect(await streamMetrics()).toMatchObject({ code: status.OK, messages: [] });
  });

  it('every pod exactly once, in non-empty lists, as ListPodSandboxMetrics has them', async () => {
    const pod = await runPod(env);
    const c = await runContainer(env, pod, 'c', ['sleep', '3600']);
    await runMinimalPod(env);
    const r = await streamMetrics();
    expect(r.code).toBe(status.OK);
    for (const m of r.messages) expect(m.podSandboxMetrics.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.podSandboxMetrics);
    const ids = streamed.map((p) => p.podSandboxId).sort();
    expect(new Set(ids).size).toBe(ids.length);
    const listed = (await ok<ListPodSandboxMetricsResponse>(env.client, 'ListPodSandboxMetrics', Buffer.alloc(0))).podMetrics;
    expect(ids).toEqual(listed.map((p) => p.podSandboxId).sort());
    expect(ids).toHaveLength(2);
    const mine = streamed.find((p) => p.podSandboxId === pod.id)!;
    expect(mine.containerMetrics.map((x) => x.containerId)).toEqual([c]);
    const names = new Set((await ok<ListMetricDescriptorsResponse>(env.client, 'ListMetricDescriptors', Buffer.alloc(0))).descriptors.map((d) => d.name));
    for (const m of [...mine.metrics, ...mine.containerMetrics.flatMap((x) => x.metrics)]) expect(names.has(m.name), m.name).toBe(true);
  });
});
