// runtime-svc killed with SIGKILL at awkward moments: containers keep
// running (conmon lives outside it), exits that happen while it is down are
// recorded, and a create or stop it was in the middle of can be finished by
// kubelet's retry. Nothing is left behind once the pod is removed.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, waitFor, usePodStack } from '../harness/pod.js';

let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => ({ s, client, image } = p));

const NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };
type St = { state: number; exitCode: number; reason: string };
const status = (id: string) => cri<{ status: St; info: Record<string, string> }>(client, 'ContainerStatus', { containerId: id, verbose: true });
const alive = (pid: number) => readFile(`/proc/${pid}/stat`, 'utf8').then((t) => !/^\d+ \(.*\) Z/.test(t), () => false);

async function killRuntime(): Promise<void> {
  const child = s.stack.children.get('runtime-svc')!;
  const pid = child.pid!;
  process.kill(pid, 'SIGKILL');
  await waitFor('runtime-svc to come back', async () => (child.pid !== pid && (await s.stack.health('runtime').catch(() => undefined))?.ready ? true : undefined), 20_000);
}

describe('runtime-svc restarts', () => {
  it('keeps containers running and finishes what was half done', async () => {
    const pod = await podConfig(s.dir);
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
    const create = (name: string, command: string[]) =>
      cri<{ containerId: string }>(client, 'CreateContainer', {
        podSandboxId,
        config: containerConfig(name, image, command, { linux: { securityContext: NS } }),
        sandboxConfig: pod,
      }).then((r) => r.containerId);

    const running = await create('running', ['sleep', '3600']);
    await cri(client, 'StartContainer', { containerId: running });
    const pid = JSON.parse((await status(running)).info.info!).pid as number;
    const exitsWhileDown = await create('exits', ['sh', '-c', 'sleep 1; exit 7']);
    await cri(client, 'StartContainer', { containerId: exitsWhileDown });
    const notStarted = await create('later', ['sh', '-c', 'echo started-after-restart']);

    await killRuntime();
    await new Promise((r) => setTimeout(r, 1200));
    await killRuntime();

    expect(await alive(pid)).toBe(true);
    expect((await status(running)).status.state).toBe(1);
    expect((await status(exitsWhileDown)).status).toMatchObject({ state: 2, exitCode: 7, reason: 'Error' });
    expect((await status(notStarted)).status.state).toBe(0);
    await cri(client, 'StartContainer', { containerId: notStarted });
    await waitFor('the late container to finish', async () => ((await status(notStarted)).status.state === 2 ? true : undefined));
    expect(await readFile(path.join(pod.logDirectory, 'later/0.log'), 'utf8')).toContain('stdout F started-after-restart');

    // A stop interrupted by the kill: sleep ignores SIGTERM as PID 1, so only kubelet's retry ends it.
    // The call in flight dies with runtime-svc; the caller sees its own deadline pass.
    const stopping = cri(client, 'StopContainer', { containerId: running, timeout: 30 }, 3000).catch((e) => e);
    await new Promise((r) => setTimeout(r, 300));
    await killRuntime();
    await stopping;
    await cri(client, 'StopContainer', { containerId: running, timeout: 0 });
    expect((await status(running)).status).toMatchObject({ state: 2, exitCode: 137 });
    expect(await alive(pid)).toBe(false);

    await cri(client, 'RemovePodSandbox', { podSandboxId });
    const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(s.dir) && / (overlay|nsfs|tmpfs) /.test(l));
    expect(mounts).toEqual([]);
    expect(await readdir(path.join(s.dir, 'run', 'runtime', 'containers'))).toEqual([]);
    expect(await readdir(path.join(s.dir, 'run', 'runtime', 'sandboxes'))).toEqual([]);
  });
});
