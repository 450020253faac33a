// A pod with containers through the CRI socket as kubelet runs it, with real
// runc, conmon, CNI and overlay: logs in CRI format, exec, exit codes, stop,
// two containers sharing localhost and a volume, and nothing left behind.
import { readFile, readdir, mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, waitFor, usePodStack, type PodStack } from '../harness/pod.js';

let stack: PodStack;
let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => {
  stack = p;
  ({ s, client, image } = p);
});

type Status = { status: { state: number; exitCode: number; reason: string; logPath: string } };
const containerStatus = (id: string) => cri<Status>(client, 'ContainerStatus', { containerId: id }).then((r) => r.status);
const exited = (id: string) => waitFor(`container ${id} to exit`, async () => ((await containerStatus(id)).state === 2 ? containerStatus(id) : undefined), 15_000);

async function runContainer(podId: string, pod: object, name: string, command: string[], extra = {}) {
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
    podSandboxId: podId,
    config: containerConfig(name, image, command, extra),
    sandboxConfig: pod,
  });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

describe('a pod through the gateway', () => {
  let pod: Awaited<ReturnType<typeof podConfig>>;
  let podId: string;

  it('runs a sandbox with an IP from the bridge', async () => {
    pod = await podConfig(s.dir);
    podId = (await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod })).podSandboxId;
    const st = await cri<{ status: { state: number; network: { ip: string } } }>(client, 'PodSandboxStatus', { podSandboxId: podId });
    expect(st.status.state).toBe(0);
    expect(st.status.network.ip).toMatch(/^10\.89\.\d+\.\d+$/);
  });

  it('runs a container whose output lands in the CRI log format', async () => {
    const id = await runContainer(podId, pod, 'hello', ['sh', '-c', 'echo out-line; echo err-line >&2; printf partial; sleep 0.2; echo; cat /etc/hostname']);
    const st = await exited(id);
    expect(st).toMatchObject({ exitCode: 0, reason: 'Completed' });
    const log = await readFile(path.join(pod.logDirectory, 'hello/0.log'), 'utf8');
    const lines = log.trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) stdout F out-line$/);
    expect(log).toMatch(/ stderr F err-line\n/);
    expect(log).toMatch(/ stdout P partial\n/);
    expect(log).toMatch(/ stdout F pod\d+\n/);
  });

  it('records exit codes 1 and 137 with their reasons', async () => {
    const one = await runContainer(podId, pod, 'fails', ['sh', '-c', 'exit 1']);
    expect(await exited(one)).toMatchObject({ exitCode: 1, reason: 'Error' });
    const sleeper = await runContainer(podId, pod, 'sleeper', ['sleep', '3600']);
    expect((await containerStatus(sleeper)).state).toBe(1);
    await cri(client, 'StopContainer', { containerId: sleeper, timeout: 1 });
    expect(await containerStatus(sleeper)).toMatchObject({ state: 2, exitCode: 137 });
  });

  it('runs ExecSync with output, exit code and the pod DNS config', async () => {
    const id = await runContainer(podId, pod, 'exec-target', ['sleep', '3600']);
    const r = await cri<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(client, 'ExecSync', { containerId: id, cmd: ['cat', '/etc/resolv.conf'], timeout: 10 });
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).toString()).toContain('nameserver 10.96.0.10');
    const bad = await cri<{ exitCode: number; stderr: Uint8Array }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', 'echo oops >&2; exit 3'], timeout: 10 });
    expect(bad.exitCode).toBe(3);
    expect(Buffer.from(bad.stderr).toString()).toBe('oops\n');
    const err = await cri(client, 'ExecSync', { containerId: id, cmd: ['sleep', '30'], timeout: 1 }).catch((e) => e);
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    await cri(client, 'StopContainer', { containerId: id, timeout: 0 });
  });

  it('shares localhost and a volume between two containers', async () => {
    const vol = await mkdtemp(path.join(os.tmpdir(), 'crius-vol-'));
    await writeFile(path.join(vol, 'index.html'), 'from the volume\n');
    const mounts = [{ containerPath: '/www', hostPath: vol }];
    const server = await runContainer(podId, pod, 'server', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], { mounts });
    const client2 = await runContainer(podId, pod, 'client', ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do busybox wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 9']);
    expect(await exited(client2)).toMatchObject({ exitCode: 0 });
    const log = await readFile(path.join(pod.logDirectory, 'client/0.log'), 'utf8');
    expect(log).toContain('stdout F from the volume');
    // Same IPC, network and UTS namespaces (the sandbox's pinned ones), own mount namespace.
    const ns = async (id: string) => {
      const r = await cri<{ stdout: Uint8Array }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', 'for n in ipc net uts mnt; do readlink /proc/self/ns/$n; done; hostname'], timeout: 10 });
      return Buffer.from(r.stdout).toString().trim().split('\n');
    };
    const other = await runContainer(podId, pod, 'other', ['sleep', '3600']);
    const [a, b] = [await ns(server), await ns(other)];
    expect(a.slice(0, 3)).toEqual(b.slice(0, 3));
    expect(a[3]).not.toBe(b[3]);
    expect(a[4]).toBe(pod.hostname);
    await cri(client, 'StopContainer', { containerId: other, timeout: 0 });
    await cri(client, 'StopContainer', { containerId: server, timeout: 0 });
    await rm(vol, { recursive: true, force: true });
  });

  it('lists containers with filters', async () => {
    const all = await cri<{ containers: { id: string; state: number; labels: Record<string, string> }[] }>(client, 'ListContainers', { filter: { podSandboxId: podId } });
    expect(all.containers.length).toBeGreaterThanOrEqual(7);
    const byLabel = await cri<{ containers: unknown[] }>(client, 'ListContainers', { filter: { labelSelector: { container: 'hello' } } });
    expect(byLabel.containers).toHaveLength(1);
  });

  it('refuses a second container with the same name', async () => {
    const err = await cri(client, 'CreateContainer', { podSandboxId: podId, config: containerConfig('hello', image, ['true']), sandboxConfig: pod }).catch((e) => e);
    expect(err.code).toBe(status.ALREADY_EXISTS);
  });

  it('stops and removes the pod leaving nothing behind', async () => {
    await cri(client, 'StopPodSandbox', { podSandboxId: podId });
    const st = await cri<{ status: { state: number } }>(client, 'PodSandboxStatus', { podSandboxId: podId });
    expect(st.status.state).toBe(1);
    await cri(client, 'StopPodSandbox', { podSandboxId: podId });
    await cri(client, 'RemovePodSandbox', { podSandboxId: podId });
    await cri(client, 'RemovePodSandbox', { podSandboxId: podId });
    expect((await cri<{ items: unknown[] }>(client, 'ListPodSandbox', {})).items).toEqual([]);
    expect((await cri<{ containers: unknown[] }>(client, 'ListContainers', {})).containers).toEqual([]);
    const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(s.dir) && !l.includes('/netns ') && !l.includes('/ns '));
    expect(mounts).toEqual([]);
    expect(await readdir(path.join(s.dir, 'run', 'netns'))).toEqual([]);
    expect(await readdir(path.join(s.config.state.root, 'storage', 'containers')).catch(() => [])).toEqual([]);
  });
});

describe('bad input', () => {
  it('NOT_FOUND for unknown ids', async () => {
    for (const [method, req] of [
      ['ContainerStatus', { containerId: 'nope' }],
      ['StartContainer', { containerId: 'nope' }],
      ['PodSandboxStatus', { podSandboxId: 'nope' }],
      ['CreateContainer', { podSandboxId: 'nope', config: containerConfig('x', 'busybox', ['true']) }],
    ] as const) {
      const err = await cri(client, method, req).catch((e) => e);
      expect(err.code, method).toBe(status.NOT_FOUND);
    }
  });

  it('INVALID_ARGUMENT for an unknown runtime handler, leaving no sandbox', async () => {
    const err = await cri(client, 'RunPodSandbox', { config: await podConfig(s.dir), runtimeHandler: 'kata' }).catch((e) => e);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toContain('unknown runtime handler "kata"');
    expect((await cri<{ items: unknown[] }>(client, 'ListPodSandbox', {})).items).toEqual([]);
  });

  it('NOT_FOUND for an image that was never pulled, leaving no container', async () => {
    const pod = await podConfig(s.dir);
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
    const err = await cri(client, 'CreateContainer', { podSandboxId, config: containerConfig('x', `${stack.reg.host}/never/pulled:1`, ['true']), sandboxConfig: pod }).catch((e) => e);
    expect(err.code).toBe(status.NOT_FOUND);
    expect((await cri<{ containers: unknown[] }>(client, 'ListContainers', {})).containers).toEqual([]);
    await cri(client, 'RemovePodSandbox', { podSandboxId });
  });
});
