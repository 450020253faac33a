// PodSandboxStats against the api.proto contract: "If the pod sandbox does not exist, the call
// returns an error"; attributes with the pod's metadata, labels and annotations (identical);
// linux cpu, memory, network (the pod's interfaces) and process stats, each stamped with a
// timestamp that "Must be > 0"; the stats of the pod's containers.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { PodSandboxStatsResponse } from '@crius/common/cri';
import { failure, ok } from './helpers.js';
import { ODD_ANNOTATIONS, ODD_LABELS, minimal, nowNs, runContainer, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const statsOf = async (id: string) => (await ok<PodSandboxStatsResponse>(env.client, 'PodSandboxStats', minimal.id(id))).stats!;

describe('PodSandboxStats', () => {
  it('minimal request (pod_sandbox_id): attributes, cpu, memory, network, processes and the containers, stamped now', async () => {
    const pod = await runPod(env, { labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    const a = await runContainer(env, pod, 'a', ['sleep', '3600']);
    const b = await runContainer(env, pod, 'b', ['sleep', '3600']);
    const before = nowNs();
    const s = await statsOf(pod.id);
    expect(s.attributes).toEqual({ id: pod.id, metadata: pod.config.metadata, labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    const l = s.linux!;
    for (const [what, ts] of [['cpu', l.cpu?.timestamp], ['memory', l.memory?.timestamp], ['network', l.network?.timestamp], ['process', l.process?.timestamp]] as const) {
      expect(ts, what).toBeGreaterThanOrEqual(before);
      expect(ts, what).toBeLessThanOrEqual(nowNs());
    }
    expect(l.cpu!.usageCoreNanoSeconds).toBeDefined();
    expect(l.memory!.workingSetBytes!.value).toBeGreaterThan(0n);
    expect(l.network!.defaultInterface!.name).toBe('eth0');
    expect(l.network!.defaultInterface!.rxBytes).toBeDefined();
    expect(l.network!.defaultInterface!.txBytes).toBeDefined();
    expect(l.process!.processCount!.value).toBeGreaterThanOrEqual(2n); // two sleeps at least
    expect(l.containers.map((c) => c.attributes!.id).sort()).toEqual([a, b].sort());
    for (const c of l.containers) expect(c.cpu?.timestamp, c.attributes!.id).toBeGreaterThan(0n);
  });

  it('a minimal pod without containers: its attributes and an empty container list', async () => {
    const { id, metadata } = await runMinimalPod(env);
    const s = await statsOf(id);
    expect(s.attributes).toMatchObject({ id, metadata: { ...metadata, attempt: 0 }, labels: {}, annotations: {} });
    expect(s.linux!.containers).toEqual([]);
  });

  it('a pod that does not exist: NOT_FOUND naming it; no pod_sandbox_id: INVALID_ARGUMENT', async () => {
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'RemovePodSandbox', minimal.id(id));
    for (const gone of [id, 'f'.repeat(64)]) {
      const f = await failure(env.client, 'PodSandboxStats', minimal.id(gone));
      expect(f.code, gone).toBe(status.NOT_FOUND);
      expect(f.details, gone).toContain(gone);
    }
    const g = await failure(env.client, 'PodSandboxStats', Buffer.alloc(0));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('pod_sandbox_id is required');
  });
});
