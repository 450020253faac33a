// StopContainer against the api.proto contract: timeout is the grace period in seconds, "Default:
// 0 (forcibly terminate the container immediately)"; "The runtime must forcibly kill the container
// after the grace period is reached"; "idempotent, and must not return an error if the container
// has already been stopped". An id the runtime never knew is NOT_FOUND, as CRI-O answers
// (containerd answers OK; the kubelet accepts both).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { failure, ok, pb } from './helpers.js';
import { containerPid, containerStatus, createContainer, minimal, processAlive, runContainer, runPod, useRuntimeEnv, type Pod, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const TRAPS = 'trap "echo got-TERM; exit 0" TERM; echo ready; while :; do sleep 0.1; done';
const logOf = (pod: Pod, name: string) => readFile(path.join(pod.config.logDirectory, `${name}/0.log`), 'utf8').catch(() => '');
const ready = (pod: Pod, name: string) => waitFor(`${name} to trap TERM`, async () => ((await logOf(pod, name)).includes('ready') ? true : undefined), 15_000);
const stop = (id: string, timeout?: number) => ok(env.client, 'StopContainer', Buffer.concat([minimal.id(id), ...(timeout === undefined ? [] : [pb.int(2, timeout)])]));

describe('StopContainer', () => {
  it('minimal request (container_id, timeout 0): killed at once, the TERM handler never runs', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'graceful', ['sh', '-c', TRAPS]);
    await ready(pod, 'graceful');
    const pid = await containerPid(env, id);
    await stop(id);
    const st = (await containerStatus(env, id)).status!;
    expect(st.state).toBe(ContainerState.CONTAINER_EXITED);
    expect(st.exitCode).toBe(137);
    expect(st.finishedAt).toBeGreaterThanOrEqual(st.startedAt);
    expect(await processAlive(pid)).toBe(false);
    expect(await logOf(pod, 'graceful')).not.toContain('got-TERM');
  });

  it('full request (a grace period): the stop signal first and the container exits on its own; one that ignores it is killed after it', async () => {
    const pod = await runPod(env);
    const graceful = await runContainer(env, pod, 'graceful', ['sh', '-c', TRAPS]);
    await ready(pod, 'graceful');
    await stop(graceful, 30);
    expect((await containerStatus(env, graceful)).status).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 0 });
    expect(await logOf(pod, 'graceful')).toContain('got-TERM');

    const stubborn = await runContainer(env, pod, 'stubborn', ['sh', '-c', 'trap "echo ignored" TERM; echo ready; while :; do sleep 0.1; done']);
    await ready(pod, 'stubborn');
    await stop(stubborn, 1);
    expect((await containerStatus(env, stubborn)).status).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 137 });
    expect(await logOf(pod, 'stubborn')).toContain('ignored');
  });

  it('is idempotent: stopping an exited container again, or one never started, is no error', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'once', ['sleep', '3600']);
    await stop(id);
    const first = (await containerStatus(env, id)).status!;
    await stop(id);
    await stop(id, 10);
    expect((await containerStatus(env, id)).status).toEqual(first);
    const never = await createContainer(env, pod, 'never', ['sleep', '3600']);
    await stop(never);
    expect((await containerStatus(env, never)).status!.state).not.toBe(ContainerState.CONTAINER_RUNNING);
    await ok(env.client, 'RemoveContainer', minimal.id(never));
  });

  it('an unknown container: NOT_FOUND naming it; no container_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'StopContainer', minimal.id('f'.repeat(64)));
    expect(f.code).toBe(status.NOT_FOUND);
    expect(f.details).toContain('f'.repeat(64));
    const g = await failure(env.client, 'StopContainer', pb.int(2, 5));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('container_id is required');
  });
});
