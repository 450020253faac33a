// Container features kubelet asks for, checked from inside real containers:
// shared PID namespace (pause process), users, read-only rootfs, privileged,
// capabilities, seccomp RuntimeDefault, resource updates, OOM, the crun
// handler, and a stop that the container's SIGTERM trap answers.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, waitFor, usePodStack } from '../harness/pod.js';

let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => ({ s, client, image } = p));

async function pod(extra: Record<string, unknown> = {}, handler = '') {
  const config = await podConfig(s.dir, extra);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config, runtimeHandler: handler });
  return { config, id: podSandboxId };
}

async function run(p: { config: object; id: string }, name: string, command: string[], security: object = {}, extra: object = {}) {
  const cfg = containerConfig(name, image, command, { linux: { securityContext: security }, ...extra });
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', { podSandboxId: p.id, config: cfg, sandboxConfig: p.config });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

async function exec(id: string, script: string) {
  const r = await cri<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', script], timeout: 10 });
  return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exitCode };
}

const status = (id: string) => cri<{ status: { state: number; exitCode: number; reason: string } }>(client, 'ContainerStatus', { containerId: id }).then((r) => r.status);
const CONTAINER_NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };

describe('container features', () => {
  it('shares one PID namespace held by catatonit when the pod asks for it', async () => {
    const p = await pod({ linux: { securityContext: { namespaceOptions: { network: 0, pid: 0, ipc: 0 } } } });
    const a = await run(p, 'a', ['sleep', '3600'], { namespaceOptions: { pid: 0 } });
    const b = await run(p, 'b', ['sleep', '3600'], { namespaceOptions: { pid: 0 } });
    const r = await exec(b, 'cat /proc/1/cmdline | tr "\\0" " "; echo; ps');
    const verbose = await cri<{ info: Record<string, string> }>(client, 'PodSandboxStatus', { podSandboxId: p.id, verbose: true });
    const pausePid = JSON.parse(verbose.info.info!).record.pause.pid as number;
    expect(pausePid).toBeGreaterThan(0);
    expect(r.out.split('\n')[0]).toContain('catatonit');
    expect(r.out.match(/sleep 3600/g)?.length).toBe(2);
    expect(a).not.toBe(b);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
    expect(await readFile(`/proc/${pausePid}/stat`).catch(() => 'gone')).toBe('gone');
  });

  it('runs as a user by number and by name, with the image groups', async () => {
    const p = await pod();
    const byId = await run(p, 'uid', ['sleep', '3600'], { ...CONTAINER_NS, runAsUser: { value: 1000 } });
    expect((await exec(byId, 'id')).out.trim()).toBe('uid=1000(app) gid=1000(app) groups=1000(app)');
    const byName = await run(p, 'uname', ['sleep', '3600'], { ...CONTAINER_NS, runAsUsername: 'nobody' });
    expect((await exec(byName, 'id -u')).out.trim()).toBe('65534');
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('enforces a read-only rootfs, capabilities, privileged and seccomp', async () => {
    const p = await pod();
    const ro = await run(p, 'ro', ['sleep', '3600'], { ...CONTAINER_NS, readonlyRootfs: true });
    const touch = await exec(ro, 'touch /x');
    expect(touch.code).not.toBe(0);
    expect(touch.err).toMatch(/Read-only file system/);

    const caps = await run(p, 'caps', ['sleep', '3600'], { ...CONTAINER_NS, capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['CHOWN'] } });
    const capEff = BigInt('0x' + (await exec(caps, 'grep CapEff /proc/self/status')).out.trim().split(/\s+/)[1]);
    expect(capEff & (1n << 12n)).toBe(1n << 12n); // CAP_NET_ADMIN
    expect(capEff & 1n).toBe(0n); // CAP_CHOWN dropped
    expect(capEff & (1n << 5n)).toBe(1n << 5n); // CAP_KILL from the default set

    const priv = await run(p, 'priv', ['sleep', '3600'], { ...CONTAINER_NS, privileged: true });
    // Privileged = every capability the runtime itself holds (root here lacks CAP_SYS_RESOURCE).
    const ours = (await readFile('/proc/self/status', 'utf8')).split('\n').find((l) => l.startsWith('CapBnd:'))!;
    const held = BigInt('0x' + ours.split(/\s+/)[1]);
    expect(BigInt('0x' + (await exec(priv, 'grep CapEff /proc/self/status')).out.trim().split(/\s+/)[1])).toBe(held);

    const sec = await run(p, 'seccomp', ['sleep', '3600'], { ...CONTAINER_NS, seccomp: { profileType: 0 } });
    const blocked = await exec(sec, 'unshare -U true');
    expect(blocked.code).not.toBe(0);
    expect(blocked.err).toMatch(/Operation not permitted/);
    expect((await exec(sec, 'grep Seccomp: /proc/self/status')).out).toMatch(/Seccomp:\s+2/);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('changes the cgroup on UpdateContainerResources', async () => {
    const p = await pod();
    const id = await run(p, 'res', ['sleep', '3600'], CONTAINER_NS, { linux: { securityContext: CONTAINER_NS, resources: { memoryLimitInBytes: 64 * 1024 * 1024 } } });
    const limit = () => exec(id, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes').then((r) => Number(r.out.trim()));
    expect(await limit()).toBe(64 * 1024 * 1024);
    await cri(client, 'UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: 96 * 1024 * 1024 } });
    expect(await limit()).toBe(96 * 1024 * 1024);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('reports OOMKilled for a container over its memory limit', async () => {
    const p = await pod();
    const id = await run(p, 'oom', ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'], CONTAINER_NS, {
      linux: { securityContext: CONTAINER_NS, resources: { memoryLimitInBytes: 32 * 1024 * 1024 } },
    });
    const st = await waitFor('the OOM kill', async () => ((await status(id)).state === 2 ? status(id) : undefined), 20_000);
    expect(st.reason).toBe('OOMKilled');
    expect(st.exitCode).toBe(137);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('stops a container that traps SIGTERM with its own exit code', async () => {
    const p = await pod();
    const id = await run(p, 'trap', ['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'], CONTAINER_NS);
    const log = path.join(p.config.logDirectory, 'trap/0.log');
    await waitFor('ready', async () => ((await readFile(log, 'utf8').catch(() => '')).includes('ready') ? true : undefined));
    const started = Date.now();
    await cri(client, 'StopContainer', { containerId: id, timeout: 20 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await status(id)).toMatchObject({ state: 2, exitCode: 0 });
    expect(await readFile(log, 'utf8')).toContain('stdout F got-term');
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('runs a pod with the crun handler', async () => {
    const p = await pod({}, 'crun');
    const id = await run(p, 'crun', ['sh', '-c', 'echo from-crun'], CONTAINER_NS);
    const st = await waitFor('exit', async () => ((await status(id)).state === 2 ? status(id) : undefined));
    expect(st.exitCode).toBe(0);
    expect(await readFile(path.join(p.config.logDirectory, 'crun/0.log'), 'utf8')).toContain('stdout F from-crun');
    const sb = await cri<{ status: { runtimeHandler: string } }>(client, 'PodSandboxStatus', { podSandboxId: p.id });
    expect(sb.status.runtimeHandler).toBe('crun');
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });
});
