// PodSandboxStatus against the api.proto contract: "If the PodSandbox is not present, returns an
// error"; created_at "Must be > 0"; annotations "MUST be identical" to the config's; info "only
// returned non-empty when Verbose is true" (JSON values); containers_statuses are the pod's
// containers' statuses and timestamp is when they were recorded.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type PodSandboxStatusResponse } from '@crius/common/cri';
import { failure, ok, pb } from './helpers.js';
import { ODD_ANNOTATIONS, ODD_LABELS, containerStatus, createContainer, minimal, nowNs, runContainer, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const statusOf = (body: Buffer) => ok<PodSandboxStatusResponse>(env.client, 'PodSandboxStatus', body);

describe('PodSandboxStatus', () => {
  it('minimal request (pod_sandbox_id): the whole status, the containers\' statuses, a timestamp, no info', async () => {
    const pod = await runPod(env, { labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    const running = await runContainer(env, pod, 'running', ['sleep', '3600']);
    const created = await createContainer(env, pod, 'created', ['sleep', '3600']);
    const before = nowNs();
    const r = await statusOf(minimal.id(pod.id));
    const after = nowNs();
    expect(r.info).toEqual({});
    expect(r.status).toMatchObject({ id: pod.id, metadata: pod.config.metadata, state: 0, labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    expect(r.status!.createdAt).toBeGreaterThan(0n);
    expect(r.status!.createdAt).toBeLessThan(before);
    expect(r.status!.linux?.namespaces?.options).toMatchObject({ network: 0, ipc: 0 });
    expect(r.timestamp).toBeGreaterThanOrEqual(before);
    expect(r.timestamp).toBeLessThanOrEqual(after);
    const byId = new Map(r.containersStatuses.map((c) => [c.id, c]));
    expect([...byId.keys()].sort()).toEqual([running, created].sort());
    expect(byId.get(running)!.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect(byId.get(created)!.state).toBe(ContainerState.CONTAINER_CREATED);
    for (const id of [running, created]) expect(byId.get(id)).toEqual((await containerStatus(env, id)).status);
  });

  it('full request (verbose): info is non-empty and every value JSON', async () => {
    const { id } = await runMinimalPod(env);
    const r = await statusOf(Buffer.concat([minimal.id(id), pb.bool(2, true)]));
    expect(Object.keys(r.info).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(r.info)) expect(() => JSON.parse(v), k).not.toThrow();
    expect(r.status!.id).toBe(id);
  });

  it('a host-network pod: namespace mode NODE reported, no pod IP; a stopped pod is NOTREADY', async () => {
    const pod = await runPod(env, { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1, ipc: 2 } } } });
    const st = (await statusOf(minimal.id(pod.id))).status!;
    expect(st.linux?.namespaces?.options).toMatchObject({ network: 2, pid: 1, ipc: 2 });
    expect(st.network?.ip ?? '').toBe('');
    await ok(env.client, 'StopPodSandbox', minimal.id(pod.id));
    expect((await statusOf(minimal.id(pod.id))).status!.state).toBe(1);
  });

  it('a sandbox that is not present: NOT_FOUND naming it', async () => {
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'RemovePodSandbox', minimal.id(id));
    for (const gone of [id, 'f'.repeat(64)]) {
      const f = await failure(env.client, 'PodSandboxStatus', minimal.id(gone));
      expect(f.code, gone).toBe(status.NOT_FOUND);
      expect(f.details, gone).toContain(gone);
    }
  });

  it('without pod_sandbox_id: INVALID_ARGUMENT', async () => {
    for (const body of [Buffer.alloc(0), pb.bool(2, true)]) {
      const f = await failure(env.client, 'PodSandboxStatus', body);
      expect(f.code).toBe(status.INVALID_ARGUMENT);
      expect(f.details).toContain('pod_sandbox_id is required');
    }
  });
});
