// ReopenContainerLog against the api.proto contract: after the kubelet renames the log to rotate
// it, the runtime reopens log_path and new output goes to the new file; for a container that is
// not running the runtime may "return an error" and then "new container log file MUST NOT be
// created"; an unknown container is an error too.
import { readFile, rename, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { failure, ok } from './helpers.js';
import { containerStatus, minimal, runContainer, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const read = (p: string) => readFile(p, 'utf8').catch(() => '');
const ticks = (text: string) => text.split('\n').filter((l) => / stdout F tick \d+$/.test(l)).map((l) => Number(l.split(' ').at(-1)));

describe('ReopenContainerLog', () => {
  it('minimal request (container_id) after a rotation: output goes on into a new file at log_path', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'ticker', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done']);
    const logPath = (await containerStatus(env, id)).status!.logPath;
    await waitFor('a first tick', async () => (ticks(await read(logPath)).length ? true : undefined));
    const rotated = `${logPath}.1`;
    await rename(logPath, rotated);
    await ok(env.client, 'ReopenContainerLog', minimal.id(id));
    const fresh = await waitFor('ticks in the new file', async () => {
      const t = ticks(await read(logPath));
      return t.length >= 2 ? t : undefined;
    }, 15_000);
    // The old file stops where the new one starts: nothing written twice, nothing lost.
    const old = ticks(await read(rotated));
    expect(fresh[0]).toBe(old.at(-1)! + 1);
  });

  it('a container that is not running: an error (FAILED_PRECONDITION) and no new log file', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'done', ['sh', '-c', 'echo bye']);
    await waitForState(env, id, ContainerState.CONTAINER_EXITED);
    const logPath = (await containerStatus(env, id)).status!.logPath;
    await rename(logPath, `${logPath}.1`);
    const f = await failure(env.client, 'ReopenContainerLog', minimal.id(id));
    expect(f.code).toBe(status.FAILED_PRECONDITION);
    expect(await stat(logPath).then(() => 'created', () => 'absent')).toBe('absent');
  });

  it('an unknown container: NOT_FOUND naming it; no container_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'ReopenContainerLog', minimal.id('f'.repeat(64)));
    expect(f.code).toBe(status.NOT_FOUND);
    expect(f.details).toContain('f'.repeat(64));
    const g = await failure(env.client, 'ReopenContainerLog', Buffer.alloc(0));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('container_id is required');
  });
});
