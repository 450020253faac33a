// runtime-svc killed with SIGKILL at awkward moments: containers keep
// running (conmon lives outside it), an exit that happens while it is down is
// recorded when it is back, a create it was in the middle of is undone and
// kubelet's retry succeeds, and a stop it was in the middle of is finished by
// the retry. Each moment is reached on an event (a file the container or
// runtime-svc writes), never after a sleep. Nothing is left behind.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { status as grpcStatus, type Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, waitFor, usePodStack } from '../harness/pod.js';

const run = promisify(execFile);

let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => ({ s, client, image } = p));

const NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };
type St = { state: number; exitCode: number; reason: string; finishedAt: bigint };
const status = (id: string) => cri<{ status: St; info: Record<string, string> }>(client, 'ContainerStatus', { containerId: id, verbose: true });
const alive = (pid: number) => readFile(`/proc/${pid}/stat`, 'utf8').then((t) => !/^\d+ \(.*\) Z/.test(t), () => false);
const exists = (p: string) => stat(p).then(() => true, () => false);
const runtimeDir = (...p: string[]) => path.join(s.dir, 'run', 'runtime', ...p);

/** SIGKILL runtime-svc and keep it down: its supervisor is told to stop, so nothing restarts it. */
async function killAndHoldRuntime(): Promise<void> {
  const child = s.stack.children.get('runtime-svc')!;
  const exited = once(child, 'exited');
  process.kill(child.pid!, 'SIGKILL');
  await child.stop();
  await exited;
}

async function startRuntime(): Promise<void> {
  s.stack.children.get('runtime-svc')!.start();
  await s.stack.waitHealthy('runtime', Date.now() + 30_000);
}

/** A host dir seen as /trigger in the container: the test and the container signal each other through it. */
async function triggerDir(name: string): Promise<{ dir: string; mounts: object[] }> {
  const dir = path.join(s.dir, 'triggers', name);
  await mkdir(dir, { recursive: true });
  return { dir, mounts: [{ containerPath: '/trigger', hostPath: dir }] };
}

async function newPod() {
  const pod = await podConfig(s.dir);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
  const create = (name: string, command: string[], extra: Record<string, unknown> = {}, timeoutMs?: number) =>
    cri<{ containerId: string }>(
      client,
      'CreateContainer',
      { podSandboxId, config: containerConfig(name, image, command, { linux: { securityContext: NS }, ...extra }), sandboxConfig: pod },
      timeoutMs,
    ).then((r) => r.containerId);
  return { pod, podSandboxId, create };
}

async function expectNothingLeft(podSandboxId: string): Promise<void> {
  await cri(client, 'RemovePodSandbox', { podSandboxId });
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(s.dir) && / (overlay|nsfs|tmpfs) /.test(l));
  expect(mounts).toEqual([]);
  expect(await readdir(runtimeDir('containers'))).toEqual([]);
  expect(await readdir(runtimeDir('sandboxes'))).toEqual([]);
}

describe('runtime-svc killed', () => {
  it('keeps containers running, and records an exit that happened while it was down', async () => {
    const { podSandboxId, create } = await newPod();
    const trig = await triggerDir('exit');
    await run('mkfifo', [path.join(trig.dir, 'go')]);

    const running = await create('running', ['sleep', '3600']);
    await cri(client, 'StartContainer', { containerId: running });
    const pid = JSON.parse((await status(running)).info.info!).pid as number;
    // Blocks until the test writes to the FIFO, then exits 7.
    const exits = await create('exits', ['sh', '-c', 'read x < /trigger/go; exit 7'], { mounts: trig.mounts });
    await cri(client, 'StartContainer', { containerId: exits });
    const notStarted = await create('later', ['sh', '-c', 'echo started-after-restart']);

    await killAndHoldRuntime();
    const triggeredAt = BigInt(Date.now()) * 1_000_000n;
    await writeFile(path.join(trig.dir, 'go'), 'go\n');
    // conmon records the exit in the exit dir whether runtime-svc is up or not.
    await waitFor('conmon to record the exit', async () => ((await exists(runtimeDir('exits', exits))) ? true : undefined), 15_000);
    expect(await exists(path.join(s.dir, 'lib', 'runtime', 'containers', `${exits}.json`))).toBe(true);
    const { status: gone } = await callCri(client, 'ContainerStatus', { containerId: exits }).then((r) => ({ status: r.ok ? 'answered' : r.error.code }));
    expect(gone).toBe(grpcStatus.UNAVAILABLE);
    await startRuntime();

    expect(await alive(pid)).toBe(true);
    expect((await status(running)).status.state).toBe(1);
    const exited = (await status(exits)).status;
    expect(exited).toMatchObject({ state: 2, exitCode: 7, reason: 'Error' });
    expect(exited.finishedAt).toBeGreaterThanOrEqual(triggeredAt);
    expect((await status(notStarted)).status.state).toBe(0);
    await cri(client, 'StartContainer', { containerId: notStarted });
    await waitFor('the late container to finish', async () => ((await status(notStarted)).status.state === 2 ? true : undefined));

    await expectNothingLeft(podSandboxId);
  });

  it('undoes a create it was killed in the middle of, and the retried create works', async () => {
    const { pod, podSandboxId, create } = await newPod();
    const containersDir = runtimeDir('containers');
    await mkdir(containersDir, { recursive: true });
    // The moment: runtime-svc has the rootfs from storage-svc and makes the bundle dir; the
    // record is written only after conmon and `runc create` are done, so it does not exist yet.
    const runtime = s.stack.children.get('runtime-svc')!;
    let interruptedId: string | undefined;
    let held: Promise<void> | undefined;
    const watcher = watch(containersDir, (_ev, name) => {
      if (interruptedId || !name || !/^[0-9a-f]{64}$/.test(String(name))) return;
      interruptedId = String(name);
      process.kill(runtime.pid!, 'SIGKILL');
      held = runtime.stop(); // no restart until the test starts it
    });
    const exited = once(runtime, 'exited');
    let failed: { code?: number };
    try {
      failed = await create('interrupted', ['sh', '-c', 'echo created-on-retry'], {}, 5000).then(
        () => ({}),
        (e: { code?: number }) => e,
      );
    } finally {
      watcher.close();
    }
    expect(interruptedId, 'runtime-svc never made a bundle dir').toBeDefined();
    await exited;
    await held;
    const id = interruptedId!;
    // The caller sees its deadline pass: the service died with the request.
    expect(failed.code).toBe(grpcStatus.DEADLINE_EXCEEDED);
    expect(await exists(path.join(s.dir, 'lib', 'runtime', 'containers', `${id}.json`))).toBe(false);
    expect(await exists(runtimeDir('containers', id))).toBe(true);
    // storage-svc made (and mounted) the rootfs before the bundle dir existed.
    const rootfsDir = path.join(s.dir, 'lib', 'storage', 'containers', id);
    expect(await exists(rootfsDir)).toBe(true);
    expect(await readFile('/proc/self/mounts', 'utf8')).toContain(`${rootfsDir}/merged`);

    await startRuntime();
    // Recovery: the bundle, the runc container, conmon and (a cross-service step after start) the rootfs go.
    expect(await exists(runtimeDir('containers', id))).toBe(false);
    const { stdout } = await run('runc', ['--root', runtimeDir('oci', 'runc'), 'list', '-q']);
    expect(stdout.split('\n')).not.toContain(id);
    await waitFor('the interrupted rootfs to be removed', async () => {
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      return !mounts.includes(id) && !(await exists(rootfsDir)) ? true : undefined;
    }, 30_000);
    expect(await processesNaming(id)).toEqual([]);

    // kubelet's retry of the same create.
    const retried = await create('interrupted', ['sh', '-c', 'echo created-on-retry']);
    expect(retried).not.toBe(id);
    await cri(client, 'StartContainer', { containerId: retried });
    await waitFor('the retried container to finish', async () => ((await status(retried)).status.state === 2 ? true : undefined));
    expect((await status(retried)).status.exitCode).toBe(0);
    expect(await readFile(path.join(pod.logDirectory, 'interrupted/0.log'), 'utf8')).toContain('stdout F created-on-retry');
    await expectNothingLeft(podSandboxId);
  });

  it('lets the retried stop finish a stop it was killed in the middle of', async () => {
    const { podSandboxId, create } = await newPod();
    const trig = await triggerDir('stop');
    // Ignores SIGTERM (it only notes it), so the first stop waits out its whole timeout.
    const stubborn = await create('stubborn', ['sh', '-c', 'trap "touch /trigger/got-term" TERM; while :; do sleep 1; done'], { mounts: trig.mounts });
    await cri(client, 'StartContainer', { containerId: stubborn });
    const pid = JSON.parse((await status(stubborn)).info.info!).pid as number;

    const stopping = callCri(client, 'StopContainer', { containerId: stubborn, timeout: 60 }, 10_000);
    // The moment: runtime-svc sent the stop signal and is waiting out the grace period.
    await waitFor('the container to get SIGTERM', async () => ((await exists(path.join(trig.dir, 'got-term'))) ? true : undefined), 15_000);
    await killAndHoldRuntime();
    const first = await stopping;
    expect(first.ok ? 'OK' : first.error.code).toBe(grpcStatus.DEADLINE_EXCEEDED);
    expect(await alive(pid)).toBe(true);
    await startRuntime();

    expect((await status(stubborn)).status.state).toBe(1);
    await cri(client, 'StopContainer', { containerId: stubborn, timeout: 0 });
    expect((await status(stubborn)).status).toMatchObject({ state: 2, exitCode: 137 });
    expect(await alive(pid)).toBe(false);
    await expectNothingLeft(podSandboxId);
  });
});

/** PIDs whose command line names the container id (its conmon, a runc left behind). */
async function processesNaming(id: string): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(id)) out.push(Number(pid));
  }
  return out;
}
