// StopPodSandbox against the api.proto contract: every running process of the sandbox stops
// (containers "must be forcibly terminated"), network resources such as the IP are reclaimed,
// the sandbox is NOTREADY, and the call "is idempotent, and must not return an error if all
// relevant resources have already been reclaimed": repeated, or for a sandbox that is gone
// (kubelet calls it eagerly and more than once; CRI-O answers OK for an unknown id too).
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState } from '@crius/common/cri';
import { call, failure, ok } from './helpers.js';
import { containerPid, containerStatus, minimal, processAlive, runContainer, runMinimalPod, runPod, sandboxStatus, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const exists = (p: string) => stat(p).then(() => true, () => false);

/** The host-local lease file of a pod IP in the stack's CNI network. */
async function leaseFile(ip: string): Promise<string> {
  const dir = path.join(env.s.dir, 'cni');
  const file = (await readdir(dir)).filter((f) => f.endsWith('.conflist')).sort()[0]!;
  const conf = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { name: string; plugins: { ipam?: { dataDir?: string } }[] };
  const dataDir = conf.plugins.find((p) => p.ipam)!.ipam!.dataDir!;
  return path.join(dataDir, conf.name, ip);
}

const netnsOf = async (id: string) => (JSON.parse((await sandboxStatus(env, id, true)).info.info!) as { record: { netnsPath: string } }).record.netnsPath;

describe('StopPodSandbox', () => {
  it('minimal request (pod_sandbox_id): containers killed, IP and namespace released, NOTREADY', async () => {
    const pod = await runPod(env);
    // One that ignores SIGTERM: only a forcible kill stops it.
    const stubborn = await runContainer(env, pod, 'stubborn', ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
    const plain = await runContainer(env, pod, 'plain', ['sleep', '3600']);
    const pids = [await containerPid(env, stubborn), await containerPid(env, plain)];
    const ip = (await sandboxStatus(env, pod.id)).status!.network!.ip;
    const lease = await leaseFile(ip);
    const netns = await netnsOf(pod.id);
    expect(await exists(lease)).toBe(true);
    expect(await exists(netns)).toBe(true);

    await ok(env.client, 'StopPodSandbox', minimal.id(pod.id));
    const after = await sandboxStatus(env, pod.id);
    expect(after.status!.state).toBe(1); // SANDBOX_NOTREADY
    for (const id of [stubborn, plain]) {
      const s = (await containerStatus(env, id)).status!;
      expect(s.state, id).toBe(ContainerState.CONTAINER_EXITED);
      expect(s.exitCode, id).toBe(137);
      expect(s.finishedAt, id).toBeGreaterThan(0n);
    }
    for (const pid of pids) expect(await processAlive(pid), `pid ${pid}`).toBe(false);
    expect(await exists(lease)).toBe(false);
    expect(await exists(netns)).toBe(false);
    // Stopped, not removed: still listed, metadata and all.
    expect(after.status!.id).toBe(pod.id);
    expect(after.containersStatuses.map((c) => c.id).sort()).toEqual([stubborn, plain].sort());
  });

  it('is idempotent: a second stop, a stop of a pod without containers, of a minimal pod and of an unknown id all succeed', async () => {
    const pod = await runPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(pod.id));
    await ok(env.client, 'StopPodSandbox', minimal.id(pod.id));
    expect((await sandboxStatus(env, pod.id)).status!.state).toBe(1);
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(id));
    await ok(env.client, 'RemovePodSandbox', minimal.id(id));
    expect((await call(env.client, 'StopPodSandbox', minimal.id(id))).ok).toBe(true);
    expect((await call(env.client, 'StopPodSandbox', minimal.id('f'.repeat(64)))).ok).toBe(true);
  });

  it('a stopped pod takes no new containers (FAILED_PRECONDITION)', async () => {
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(id));
    const f = await failure(env.client, 'CreateContainer', minimal.createContainer(id, 'late', env.image));
    expect(f.code).toBe(status.FAILED_PRECONDITION);
    expect(f.details).toContain('not ready');
  });

  it('without pod_sandbox_id: INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'StopPodSandbox', Buffer.alloc(0));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('pod_sandbox_id is required');
  });
});
