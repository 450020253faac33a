// UpdatePodSandboxResources against the api.proto contract: "synchronously updates the
// PodSandboxConfig with the pod-level resource configuration" (overhead and resources) after
// the kubelet resized the pod's cgroup — the sandbox's recorded config says so when the call
// returns, and nothing else of it changes (annotations stay identical). A sandbox that does not
// exist is an error (NOT_FOUND, as containerd's lookup fails).
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { failure, ok, pb } from './helpers.js';
import { ODD_ANNOTATIONS, ODD_LABELS, minimal, runMinimalPod, runPod, sandboxStatus, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

type Recorded = { linux?: { overhead?: Record<string, unknown>; resources?: Record<string, unknown>; cgroupParent?: string } };
/** The sandbox config as runtime-svc keeps it, from verbose PodSandboxStatus info. */
const recorded = async (id: string) => (JSON.parse((await sandboxStatus(env, id, true)).info.info!) as { config: Recorded }).config;
const MiB = 1024 * 1024;

describe('UpdatePodSandboxResources', () => {
  it('minimal request (pod_sandbox_id only): no error; nothing to record', async () => {
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'UpdatePodSandboxResources', minimal.id(id));
    const cfg = await recorded(id);
    expect(cfg.linux?.overhead).toBeUndefined();
    expect(cfg.linux?.resources).toBeUndefined();
    expect((await sandboxStatus(env, id)).status!.state).toBe(0);
  });

  it('full request (overhead and resources): the recorded config has them when it returns, the rest unchanged', async () => {
    const pod = await runPod(env, {
      labels: ODD_LABELS,
      annotations: ODD_ANNOTATIONS,
      linux: { resources: { cpuShares: 102n, memoryLimitInBytes: BigInt(128 * MiB) } },
    });
    const before = (await sandboxStatus(env, pod.id)).status!;
    await ok(env.client, 'UpdatePodSandboxResources', {
      podSandboxId: pod.id,
      overhead: { cpuShares: 10n, memoryLimitInBytes: BigInt(16 * MiB) },
      resources: { cpuShares: 512n, cpuQuota: 50000n, cpuPeriod: 100000n, memoryLimitInBytes: BigInt(256 * MiB) },
    });
    const cfg = await recorded(pod.id);
    expect(cfg.linux?.overhead).toMatchObject({ cpuShares: '10', memoryLimitInBytes: String(16 * MiB) });
    expect(cfg.linux?.resources).toMatchObject({ cpuShares: '512', cpuQuota: '50000', cpuPeriod: '100000', memoryLimitInBytes: String(256 * MiB) });
    expect(cfg.linux?.cgroupParent).toBe(pod.config.linux.cgroupParent);
    expect((await sandboxStatus(env, pod.id)).status).toEqual(before); // metadata, labels, annotations, state: as they were
  });

  it('a sandbox that does not exist: NOT_FOUND naming it; no pod_sandbox_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'UpdatePodSandboxResources', minimal.id('f'.repeat(64)));
    expect(f.code).toBe(status.NOT_FOUND);
    expect(f.details).toContain('f'.repeat(64));
    const g = await failure(env.client, 'UpdatePodSandboxResources', pb.msg(3, pb.int(3, 512)));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('pod_sandbox_id is required');
  });
});
