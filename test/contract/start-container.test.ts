// StartContainer against the api.proto contract and the container states it defines: a CREATED
// container becomes RUNNING with started_at set, one that ends becomes EXITED with finished_at
// and exit_code ("required when finished_at != 0"); only a created container can be started
// (FAILED_PRECONDITION otherwise, the code containerd's and CRI-O's state errors mean).
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState } from '@crius/common/cri';
import { failure, ok } from './helpers.js';
import { containerPid, containerStatus, createContainer, minimal, processAlive, runMinimalPod, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

describe('StartContainer', () => {
  it('minimal request (container_id): CREATED becomes RUNNING, started after it was created, its process alive', async () => {
    const { id: podId } = await runMinimalPod(env);
    const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(podId, 'sleeper', env.image));
    const created = (await containerStatus(env, containerId)).status!;
    await ok(env.client, 'StartContainer', minimal.id(containerId));
    const st = (await containerStatus(env, containerId)).status!;
    expect(st.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect(st.startedAt).toBeGreaterThanOrEqual(created.createdAt);
    expect(st.finishedAt).toBe(0n);
    expect(await processAlive(await containerPid(env, containerId))).toBe(true);
  });

  it('a command that ends: EXITED with its exit code, finished_at after started_at, reason set', async () => {
    const pod = await runPod(env);
    for (const [name, code, reason] of [['ok', 0, 'Completed'], ['fails', 3, 'Error']] as const) {
      const id = await createContainer(env, pod, name, ['sh', '-c', `exit ${code}`]);
      await ok(env.client, 'StartContainer', minimal.id(id));
      const st = await waitForState(env, id, ContainerState.CONTAINER_EXITED);
      expect(st.exitCode, name).toBe(code);
      expect(st.reason, name).toBe(reason);
      expect(st.finishedAt, name).toBeGreaterThanOrEqual(st.startedAt);
      expect(st.startedAt, name).toBeGreaterThan(0n);
    }
  });

  it('a running or exited container cannot be started again: FAILED_PRECONDITION, state unchanged', async () => {
    const pod = await runPod(env);
    const running = await createContainer(env, pod, 'running', ['sleep', '3600']);
    await ok(env.client, 'StartContainer', minimal.id(running));
    const r = await failure(env.client, 'StartContainer', minimal.id(running));
    expect(r.code).toBe(status.FAILED_PRECONDITION);
    expect((await containerStatus(env, running)).status!.state).toBe(ContainerState.CONTAINER_RUNNING);
    await ok(env.client, 'StopContainer', minimal.id(running));
    const e = await failure(env.client, 'StartContainer', minimal.id(running));
    expect(e.code).toBe(status.FAILED_PRECONDITION);
    expect((await containerStatus(env, running)).status!.state).toBe(ContainerState.CONTAINER_EXITED);
  });

  it('an unknown container: NOT_FOUND naming it; no container_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'StartContainer', minimal.id('f'.repeat(64)));
    expect(f.code).toBe(status.NOT_FOUND);
    expect(f.details).toContain('f'.repeat(64));
    const g = await failure(env.client, 'StartContainer', Buffer.alloc(0));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('container_id is required');
  });
});
