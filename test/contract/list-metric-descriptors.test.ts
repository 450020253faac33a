// ListMetricDescriptors against the api.proto contract: the descriptors of the metrics
// ListPodSandboxMetrics returns, "static at startup" (the same on every call), each name a
// "unique identifier", with help and the label keys its metrics may use.
import { describe, expect, it } from 'vitest';
import type { ListMetricDescriptorsResponse } from '@crius/common/cri';
import { ok } from './helpers.js';
import { runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const descriptors = async () => (await ok<ListMetricDescriptorsResponse>(env.client, 'ListMetricDescriptors', Buffer.alloc(0))).descriptors;

describe('ListMetricDescriptors', () => {
  it('the request (no fields: minimal and full are zero bytes): unique names, help and label keys, the cAdvisor CPU and memory ones among them', async () => {
    const d = await descriptors();
    expect(d.length).toBeGreaterThan(0);
    expect(new Set(d.map((x) => x.name)).size).toBe(d.length);
    for (const x of d) {
      expect(x.name, x.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(x.help, x.name).not.toBe('');
      expect(new Set(x.labelKeys).size, x.name).toBe(x.labelKeys.length);
    }
    expect(d.map((x) => x.name)).toEqual(expect.arrayContaining(['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes']));
  });

  it('is static: the same before and after pods come and go', async () => {
    const first = await descriptors();
    const pod = await runPod(env);
    await runContainer(env, pod, 'c', ['sleep', '3600']);
    expect(await descriptors()).toEqual(first);
    await ok(env.client, 'RemovePodSandbox', { podSandboxId: pod.id });
    expect(await descriptors()).toEqual(first);
  });
});
