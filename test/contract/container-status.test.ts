// ContainerStatus against the api.proto contract, in each state: started_at and finished_at
// "Default: 0 (not specified)" until they happen, exit_code once finished, reason "Must be set to
// OOMKilled" for a cgroup OOM kill, image_id equal to PullImage's image_ref, annotations identical
// to the config's, info only when verbose (JSON, e.g. the pid); "If the container is not present,
// returns an error".
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type ContainerStatusResponse } from '@crius/common/cri';
import { failure, ok, pb } from './helpers.js';
import { ODD_ANNOTATIONS, ODD_LABELS, createContainer, minimal, processAlive, runContainer, runMinimalPod, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const statusOf = (body: Buffer) => ok<ContainerStatusResponse>(env.client, 'ContainerStatus', body);

describe('ContainerStatus', () => {
  it('minimal request (container_id) through created, running and exited: times, exit code and reason as each state has them', async () => {
    const pod = await runPod(env);
    const id = await createContainer(env, pod, 'life', ['sh', '-c', 'read line; exit 7'], { labels: ODD_LABELS, annotations: ODD_ANNOTATIONS, stdin: true, stdinOnce: true });
    const created = await statusOf(minimal.id(id));
    expect(created.info).toEqual({});
    expect(created.status).toMatchObject({ id, state: ContainerState.CONTAINER_CREATED, startedAt: 0n, finishedAt: 0n, exitCode: 0, labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    expect(created.status!.createdAt).toBeGreaterThan(0n);
    expect(created.status!.imageId).toBe(env.imageId);
    expect(created.status!.image?.image).toBe(env.image);
    expect(created.status!.logPath).toBe(`${pod.config.logDirectory}/life/0.log`);

    await ok(env.client, 'StartContainer', minimal.id(id));
    const running = (await statusOf(minimal.id(id))).status!;
    expect(running).toMatchObject({ state: ContainerState.CONTAINER_RUNNING, finishedAt: 0n, exitCode: 0 });
    expect(running.startedAt).toBeGreaterThanOrEqual(running.createdAt);

    await ok(env.client, 'StopContainer', minimal.id(id));
    const exited = (await statusOf(minimal.id(id))).status!;
    expect(exited).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 137, startedAt: running.startedAt, createdAt: created.status!.createdAt });
    expect(exited.finishedAt).toBeGreaterThanOrEqual(exited.startedAt);
    expect(exited.reason).not.toBe('');
  });

  it('full request (verbose): info is JSON and names the live pid of the container', async () => {
    const { id: podId } = await runMinimalPod(env);
    const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(podId, 'verbose', env.image));
    await ok(env.client, 'StartContainer', minimal.id(containerId));
    const r = await statusOf(Buffer.concat([minimal.id(containerId), pb.bool(2, true)]));
    expect(Object.keys(r.info).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(r.info)) expect(() => JSON.parse(v), k).not.toThrow();
    const { pid } = JSON.parse(r.info.info!) as { pid: number };
    expect(await processAlive(pid)).toBe(true);
    expect(r.status!.state).toBe(ContainerState.CONTAINER_RUNNING);
  });

  it('a container killed by the cgroup OOM killer: reason OOMKilled, exit code 137', async () => {
    const pod = await runPod(env);
    const limit = 32n * 1024n * 1024n;
    const id = await runContainer(env, pod, 'oom', ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'], {
      linux: { securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } }, resources: { memoryLimitInBytes: limit, memorySwapLimitInBytes: limit } },
    });
    const st = await waitForState(env, id, ContainerState.CONTAINER_EXITED);
    expect(st.reason).toBe('OOMKilled');
    expect(st.exitCode).toBe(137);
  });

  it('a container that is not present: NOT_FOUND naming it; no container_id: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await createContainer(env, pod, 'gone', ['true']);
    await ok(env.client, 'RemoveContainer', minimal.id(id));
    for (const gone of [id, 'f'.repeat(64)]) {
      const f = await failure(env.client, 'ContainerStatus', minimal.id(gone));
      expect(f.code, gone).toBe(status.NOT_FOUND);
      expect(f.details, gone).toContain(gone);
    }
    const g = await failure(env.client, 'ContainerStatus', pb.bool(2, true));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('container_id is required');
  });
});
