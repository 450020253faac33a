// Issue 20: checkpoint/restore through the CRI socket as kubelet drives it
// (CheckpointContainer, CreateContainer with the archive as image +
// StartContainer, CheckpointPod / RestorePod), with real CRIU, runc, conmon,
// CNI and overlay. Skipped only when this kernel cannot run CRIU at all.
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, usePodStack, waitFor } from '../harness/pod.js';
import { COUNTER, counts, criuUnavailable, last, tarFile, tarNames } from './helpers.js';

const why = criuUnavailable();
if (why) console.warn(`skipping checkpoint/restore tests: ${why}`);

let s: TestStack;
let client: Client;
let image: string;
usePodStack((p) => ({ s, client, image } = p));

const CREATED = 0;
const RUNNING = 1;

type Pod = { config: Awaited<ReturnType<typeof podConfig>>; id: string };
async function pod(): Promise<Pod> {
  const config = await podConfig(s.dir);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config });
  return { config, id: podSandboxId };
}

async function create(p: Pod, name: string, imageOrArchive: string, command: string[]): Promise<string> {
  const config = containerConfig(name, imageOrArchive, command);
  return (await cri<{ containerId: string }>(client, 'CreateContainer', { podSandboxId: p.id, config, sandboxConfig: p.config })).containerId;
}

async function run(p: Pod, name: string, command: string[]): Promise<string> {
  const id = await create(p, name, image, command);
  await cri(client, 'StartContainer', { containerId: id });
  return id;
}

type Status = { state: number; image: { image: string }; imageRef: string; startedAt: bigint; metadata: { name: string }; logPath: string; labels: Record<string, string> };
const status = (id: string) => cri<{ status: Status }>(client, 'ContainerStatus', { containerId: id }).then((r) => r.status);

async function sh(id: string, script: string): Promise<string> {
  const r = await cri<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', script], timeout: 10 });
  if (r.exitCode !== 0) throw new Error(`exec ${script}: exit ${r.exitCode}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}

const logOf = (p: Pod, name: string) => path.join(p.config.logDirectory, `${name}/0.log`);
const podIp = (id: string) => cri<{ status: { network: { ip: string } } }>(client, 'PodSandboxStatus', { podSandboxId: id }).then((r) => r.status.network.ip);

const SERVER = [
  'sh',
  '-c',
  // A listener (httpd forks per connection), and a file held open on fd 3 that is written
  // again, at the fd's offset, on a trigger; the token is random per process start.
  't=$RANDOM$RANDOM; mkdir -p /www; echo pong > /www/index.html; httpd -p 8080 -h /www; exec 3<>/tmp/state; echo "before $t" >&3; ' +
    'while true; do if [ -f /tmp/go ]; then echo "after $t" >&3; rm /tmp/go; fi; sleep 0.1; done',
];

describe.skipIf(why !== '')('checkpoint and restore of a container', () => {
  it('restores a counter into a new pod where it continues from the number it had reached', async () => {
    const p1 = await pod();
    const id = await run(p1, 'counter', COUNTER);
    await waitFor('the counter to reach 5', async () => (last(await counts(logOf(p1, 'counter'))) >= 5 ? true : undefined));
    const before = last(await counts(logOf(p1, 'counter')));
    const archive = path.join(s.dir, 'counter.tar');
    await cri(client, 'CheckpointContainer', { containerId: id, location: archive, timeout: 60 });
    const atReturn = last(await counts(logOf(p1, 'counter')));

    // The source was left running and keeps counting.
    expect((await status(id)).state).toBe(RUNNING);
    await waitFor('the source to keep counting', async () => (last(await counts(logOf(p1, 'counter'))) > atReturn ? true : undefined));

    // The archive is the one CRI-O writes, as checkpointctl expects it.
    const names = await tarNames(archive);
    expect(names).toEqual(expect.arrayContaining(['checkpoint/', 'checkpoint/inventory.img', 'config.dump', 'spec.dump', 'io.kubernetes.cri-o.LogPath', 'dump.log']));
    const config = JSON.parse((await tarFile(archive, 'config.dump'))!);
    expect(config).toMatchObject({ id, rootfsImage: image, runtime: 'runc', restored: false });
    expect(config.rootfsImageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Date.parse(config.checkpointedTime)).toBeGreaterThan(Date.parse(config.createdTime));
    expect(JSON.parse((await tarFile(archive, 'spec.dump'))!).process.args).toEqual(COUNTER);

    await cri(client, 'RemovePodSandbox', { podSandboxId: p1.id });
    const p2 = await pod();
    const rid = await create(p2, 'counter', archive, []);
    const created = await status(rid);
    expect(created.state).toBe(CREATED);
    expect(created.image.image).toBe(image);
    expect(await counts(logOf(p2, 'counter'))).toEqual([]); // nothing runs before StartContainer

    await cri(client, 'StartContainer', { containerId: rid });
    const restored = await waitFor('restored output', async () => {
      const c = await counts(logOf(p2, 'counter'));
      return c.length >= 3 ? c : undefined;
    });
    // A restart would print 1; the restored process goes on from its memory at the dump.
    expect(restored[0]).toBeGreaterThan(before);
    expect(restored[0]).toBeLessThanOrEqual(atReturn + 1);
    restored.slice(1).forEach((n, i) => expect(n).toBe(restored[i]! + 1));

    const st = await status(rid);
    expect(st).toMatchObject({ state: RUNNING, metadata: { name: 'counter' }, labels: { container: 'counter' } });
    expect(st.image.image).toBe(image);
    expect(st.imageRef).toMatch(/@sha256:|^sha256:/);
    expect(st.startedAt).toBeGreaterThan(0n);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p2.id });
  });

  it('brings back an open file at its offset and a TCP listener in the new pod network', async () => {
    const p1 = await pod();
    const id = await run(p1, 'server', SERVER);
    const token = await waitFor('the server to start', async () => {
      const st = await sh(id, 'cat /tmp/state; wget -qO- http://127.0.0.1:8080/').catch(() => '');
      return /^before (\d+)\npong\n$/.exec(st)?.[1];
    });
    const archive = path.join(s.dir, 'server.tar');
    await cri(client, 'CheckpointContainer', { containerId: id, location: archive, timeout: 60 });
    await cri(client, 'RemovePodSandbox', { podSandboxId: p1.id });

    const p2 = await pod();
    const rid = await create(p2, 'server', archive, []);
    await cri(client, 'StartContainer', { containerId: rid });
    // The listener answers inside the new pod and on the new pod's IP.
    expect(await sh(rid, 'wget -qO- http://127.0.0.1:8080/')).toBe('pong\n');
    const ip = await podIp(p2.id);
    expect(ip).not.toBe(await podIp(p1.id).catch(() => ''));
    expect(await (await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(10_000) })).text()).toBe('pong\n');
    // The same process holds the same open file: its next write lands after the first.
    expect((await sh(rid, 'readlink /proc/1/fd/3')).trim()).toBe('/tmp/state');
    await sh(rid, 'touch /tmp/go');
    await waitFor('the write through the restored fd', async () => ((await sh(rid, 'cat /tmp/state')) === `before ${token}\nafter ${token}\n` ? true : undefined));
    await cri(client, 'RemovePodSandbox', { podSandboxId: p2.id });
  });
});

describe.skipIf(why !== '')('checkpoint and restore of a pod', () => {
  it('checkpoints every container into one directory and restores them into a new pod', async () => {
    const p1 = await pod();
    const server = await run(p1, 'server', SERVER);
    const counter = await run(p1, 'counter', COUNTER);
    await waitFor('both to run', async () => ((await sh(server, 'wget -qO- http://127.0.0.1:8080/').catch(() => '')) === 'pong\n' && last(await counts(logOf(p1, 'counter'))) >= 5 ? true : undefined));
    const before = last(await counts(logOf(p1, 'counter')));
    const dir = path.join(s.dir, 'pod-checkpoint');
    await mkdir(dir);
    await cri(client, 'CheckpointPod', { podSandboxId: p1.id, path: dir, timeout: 60 });
    const atReturn = last(await counts(logOf(p1, 'counter')));
    expect((await readdir(dir)).sort()).toEqual(['counter.tar', 'pod.containers', 'pod.dump', 'pod.options', 'server.tar']);
    for (const id of [server, counter]) expect((await status(id)).state).toBe(RUNNING);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p1.id });

    const config = await podConfig(s.dir);
    const containerConfigs = [containerConfig('server', image, SERVER), containerConfig('counter', image, COUNTER)];
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RestorePod', { path: dir, config, containerConfigs });
    const p2 = { config, id: podSandboxId };
    const listed = await cri<{ containers: { id: string; metadata: { name: string }; state: number }[] }>(client, 'ListContainers', { filter: { podSandboxId } });
    expect(listed.containers.map((c) => [c.metadata.name, c.state]).sort()).toEqual([
      ['counter', CREATED],
      ['server', CREATED],
    ]);
    for (const c of listed.containers) await cri(client, 'StartContainer', { containerId: c.id });
    const byName = Object.fromEntries(listed.containers.map((c) => [c.metadata.name, c.id]));
    expect(await sh(byName.server!, 'wget -qO- http://127.0.0.1:8080/')).toBe('pong\n');
    const restored = await waitFor('restored output', async () => {
      const c = await counts(logOf(p2, 'counter'));
      return c.length >= 2 ? c : undefined;
    });
    expect(restored[0]).toBeGreaterThan(before);
    expect(restored[0]).toBeLessThanOrEqual(atReturn + 1);
    await cri(client, 'RemovePodSandbox', { podSandboxId });
    // The checkpoint is the caller's and was only read.
    expect((await readdir(dir)).sort()).toEqual(['counter.tar', 'pod.containers', 'pod.dump', 'pod.options', 'server.tar']);
  });
});
