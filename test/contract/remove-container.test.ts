// RemoveContainer against the api.proto contract: "If the container is running, the container
// must be forcibly removed"; "idempotent, and must not return an error if the container has
// already been removed". Afterwards ContainerStatus returns an error for it and no list has it.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ListContainersResponse } from '@crius/common/cri';
import { call, failure, ok } from './helpers.js';
import { containerPid, containerStatus, createContainer, minimal, processAlive, runContainer, runPod, sandboxStatus, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const mounted = async (p: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === p);
const containerIds = async () => (await ok<ListContainersResponse>(env.client, 'ListContainers', Buffer.alloc(0))).containers.map((c) => c.id);

describe('RemoveContainer', () => {
  it('minimal request on a running container that ignores SIGTERM: forcibly removed, its process and rootfs gone', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'stubborn', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
    const pid = await containerPid(env, id);
    const rootfs = (JSON.parse((await containerStatus(env, id, true)).info.info!) as { rootfs: string }).rootfs;
    expect(await mounted(rootfs)).toBe(true);
    await ok(env.client, 'RemoveContainer', minimal.id(id));
    expect(await processAlive(pid)).toBe(false);
    expect(await mounted(rootfs)).toBe(false);
    expect(await containerIds()).not.toContain(id);
    const f = await failure(env.client, 'ContainerStatus', minimal.id(id));
    expect(f.code).toBe(status.NOT_FOUND);
    // The sandbox stays, without it.
    const sb = await sandboxStatus(env, pod.id);
    expect(sb.status!.state).toBe(0);
    expect(sb.containersStatuses.map((c) => c.id)).not.toContain(id);
  });

  it('removes created and exited containers; removing again, or an unknown id, is no error', async () => {
    const pod = await runPod(env);
    const created = await createContainer(env, pod, 'created', ['sleep', '3600']);
    const exited = await runContainer(env, pod, 'exited', ['true']);
    await ok(env.client, 'StopContainer', minimal.id(exited));
    for (const id of [created, exited]) {
      await ok(env.client, 'RemoveContainer', minimal.id(id));
      expect(await containerIds(), id).not.toContain(id);
      expect((await call(env.client, 'RemoveContainer', minimal.id(id))).ok, id).toBe(true);
    }
    expect((await call(env.client, 'RemoveContainer', minimal.id('f'.repeat(64)))).ok).toBe(true);
  });

  it('frees the (name, attempt) for a new container', async () => {
    const pod = await runPod(env);
    const first = await createContainer(env, pod, 'reused', ['sleep', '3600']);
    await ok(env.client, 'RemoveContainer', minimal.id(first));
    const second = await createContainer(env, pod, 'reused', ['sleep', '3600']);
    expect(second).not.toBe(first);
  });

  it('no container_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'RemoveContainer', Buffer.alloc(0));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('container_id is required');
  });
});
