// RemovePodSandbox against the api.proto contract: "If there are any running containers in the
// sandbox, they must be forcibly terminated and removed"; afterwards the sandbox and its
// containers are gone from every list and status (PodSandboxStatus "returns an error" for it);
// "idempotent, and must not return an error if the sandbox has already been removed".
import { readFile, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ListContainersResponse, ListPodSandboxResponse } from '@crius/common/cri';
import { call, failure, ok } from './helpers.js';
import { containerPid, containerStatus, minimal, processAlive, runContainer, runMinimalPod, runPod, sandboxStatus, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const mounted = async (p: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === p);
const podIds = async () => (await ok<ListPodSandboxResponse>(env.client, 'ListPodSandbox', Buffer.alloc(0))).items.map((p) => p.id);
const containerIds = async () => (await ok<ListContainersResponse>(env.client, 'ListContainers', Buffer.alloc(0))).containers.map((c) => c.id);

describe('RemovePodSandbox', () => {
  it('minimal request on a ready pod with a running container: both forcibly removed, nothing of them left', async () => {
    const pod = await runPod(env);
    const c = await runContainer(env, pod, 'stubborn', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
    const pid = await containerPid(env, c);
    const rootfs = (JSON.parse((await containerStatus(env, c, true)).info.info!) as { rootfs: string }).rootfs;
    const shm = (JSON.parse((await sandboxStatus(env, pod.id, true)).info.info!) as { record: { shmPath: string } }).record.shmPath;
    expect(await mounted(rootfs)).toBe(true);

    await ok(env.client, 'RemovePodSandbox', minimal.id(pod.id));
    expect(await processAlive(pid)).toBe(false);
    expect(await podIds()).not.toContain(pod.id);
    expect(await containerIds()).not.toContain(c);
    expect((await failure(env.client, 'PodSandboxStatus', minimal.id(pod.id))).code).toBe(status.NOT_FOUND);
    expect((await failure(env.client, 'ContainerStatus', minimal.id(c))).code).toBe(status.NOT_FOUND);
    expect(await mounted(rootfs)).toBe(false);
    expect(await mounted(shm)).toBe(false);
    expect(await stat(shm).then(() => 'there', () => 'gone')).toBe('gone');
  });

  it('removes a stopped pod and a minimal one; a second remove and an unknown id succeed', async () => {
    const pod = await runPod(env);
    await runContainer(env, pod, 'done', ['true']);
    await ok(env.client, 'StopPodSandbox', minimal.id(pod.id));
    await ok(env.client, 'RemovePodSandbox', minimal.id(pod.id));
    expect(await podIds()).not.toContain(pod.id);
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'RemovePodSandbox', minimal.id(id));
    expect(await podIds()).not.toContain(id);
    for (const again of [pod.id, id, 'f'.repeat(64)]) expect((await call(env.client, 'RemovePodSandbox', minimal.id(again))).ok, again).toBe(true);
  });

  it('leaves other pods alone', async () => {
    const keep = await runPod(env);
    const kept = await runContainer(env, keep, 'kept', ['sleep', '3600']);
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'RemovePodSandbox', minimal.id(id));
    expect((await sandboxStatus(env, keep.id)).status!.state).toBe(0);
    expect(await processAlive(await containerPid(env, kept))).toBe(true);
  });

  it('without pod_sandbox_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'RemovePodSandbox', Buffer.alloc(0));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('pod_sandbox_id is required');
  });
});
