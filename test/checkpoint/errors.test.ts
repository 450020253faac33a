// Issue 20: what goes wrong with checkpoint/restore gets the right gRPC code
// and a message naming why, the source container is untouched and still
// running, and nothing of the failed attempt is left (no archive, no work
// directory, no unpacked images, no half-created container).
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status as grpc, type Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, usePodStack, waitFor } from '../harness/pod.js';
import { COUNTER, counts, criuUnavailable, last } from './helpers.js';
import { packDirectory, unpackArchive } from '../../services/runtime-svc/src/checkpoint/archive.js';

const exec = promisify(execFile);
const why = criuUnavailable();
if (why) console.warn(`skipping checkpoint/restore error tests that need CRIU: ${why}`);

let s: TestStack;
let client: Client;
let image: string;
usePodStack((p) => ({ s, client, image } = p));

type Pod = { config: Awaited<ReturnType<typeof podConfig>>; id: string };
async function pod(handler = ''): Promise<Pod> {
  const config = await podConfig(s.dir);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config, runtimeHandler: handler });
  return { config, id: podSandboxId };
}
async function run(p: Pod, name: string, command: string[]): Promise<string> {
  const config = containerConfig(name, image, command);
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', { podSandboxId: p.id, config, sandboxConfig: p.config });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}
async function fails(method: Parameters<typeof callCri>[1], req: object): Promise<{ code: number; details: string }> {
  const r = await callCri(client, method, req, 60_000);
  if (r.ok) throw new Error(`${method} succeeded`);
  return { code: r.error.code, details: r.error.details };
}
const state = (id: string) => cri<{ status: { state: number } }>(client, 'ContainerStatus', { containerId: id }).then((r) => r.status.state);
const logOf = (p: Pod, name: string) => path.join(p.config.logDirectory, `${name}/0.log`);
const unpackedDir = () => path.join(s.dir, 'lib', 'runtime', 'checkpoints');

async function stillCounting(p: Pod, id: string): Promise<void> {
  expect(await state(id)).toBe(1);
  const now = last(await counts(logOf(p, 'counter')));
  await waitFor('the container to keep counting', async () => (last(await counts(logOf(p, 'counter'))) > now ? true : undefined));
}

describe('CheckpointContainer refuses', () => {
  it('an unknown container (NOT_FOUND) and bad locations (INVALID_ARGUMENT)', async () => {
    expect((await fails('CheckpointContainer', { containerId: 'no-such', location: path.join(s.dir, 'x.tar') })).code).toBe(grpc.NOT_FOUND);
    const p = await pod();
    const id = await run(p, 'counter', COUNTER);
    const relative = await fails('CheckpointContainer', { containerId: id, location: 'x.tar' });
    expect(relative).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('not an absolute path') });
    const noDir = await fails('CheckpointContainer', { containerId: id, location: path.join(s.dir, 'no-such-dir', 'x.tar') });
    expect(noDir).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('does not exist') });
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('a container that is not running (FAILED_PRECONDITION)', async () => {
    const p = await pod();
    const id = await run(p, 'done', ['true']);
    await waitFor('exit', async () => ((await state(id)) === 2 ? true : undefined));
    const r = await fails('CheckpointContainer', { containerId: id, location: path.join(s.dir, 'done.tar') });
    expect(r).toMatchObject({ code: grpc.FAILED_PRECONDITION, details: expect.stringContaining('only a running container can be checkpointed') });
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('a crun container, naming that this crun was built without CRIU', async () => {
    const version = (await exec('crun', ['--version'])).stdout;
    const p = await pod('crun');
    const id = await run(p, 'counter', COUNTER);
    const out = path.join(s.dir, 'crun-out');
    await mkdir(out);
    const r = await callCri(client, 'CheckpointContainer', { containerId: id, location: path.join(out, 'c.tar') }, 60_000);
    if (/\+CRIU/.test(version)) {
      expect(r.ok).toBe(true); // a crun with CRIU checkpoints like runc
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ code: grpc.FAILED_PRECONDITION, details: expect.stringMatching(/crun .* built without CRIU support/) });
      expect(await readdir(out)).toEqual([]);
      await stillCounting(p, id);
    }
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it.skipIf(why !== '')('a container CRIU cannot dump (an established TCP connection), leaving it running and nothing behind', async () => {
    const p = await pod();
    // Both ends of a connection inside the container; the pipes never close, so it stays established.
    const id = await run(p, 'counter', ['sh', '-c', '(while true; do sleep 1; done) | nc -l -p 9000 & sleep 0.5; (while true; do sleep 1; done) | nc 127.0.0.1 9000 & ' + COUNTER[2]]);
    await waitFor('the connection', async () => {
      const r = await cri<{ stdout: Uint8Array }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', 'netstat -tn'], timeout: 10 });
      return /:9000\s+ESTABLISHED/.test(Buffer.from(r.stdout).toString()) ? true : undefined;
    });
    const out = path.join(s.dir, 'tcp-out');
    await mkdir(out);
    const r = await fails('CheckpointContainer', { containerId: id, location: path.join(out, 'c.tar'), timeout: 60 });
    expect(r.code).toBe(grpc.FAILED_PRECONDITION);
    expect(r.details).toContain(`container ${id} cannot be checkpointed`);
    expect(r.details).toContain('Connected TCP socket');
    expect(await readdir(out)).toEqual([]);
    await stillCounting(p, id);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });
});

describe.skipIf(why !== '')('restore refuses a corrupt or foreign checkpoint with INVALID_ARGUMENT', () => {
  let good: string;

  it('(a real checkpoint to break)', async () => {
    const p = await pod();
    const id = await run(p, 'counter', COUNTER);
    good = path.join(s.dir, 'good.tar');
    await cri(client, 'CheckpointContainer', { containerId: id, location: good, timeout: 60 });
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  async function restoreFails(archive: string): Promise<{ code: number; details: string }> {
    const p = await pod();
    try {
      const r = await fails('CreateContainer', { podSandboxId: p.id, config: containerConfig('counter', archive, []), sandboxConfig: p.config });
      const listed = await cri<{ containers: unknown[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } });
      expect(listed.containers).toEqual([]);
      expect(await readdir(unpackedDir()).catch(() => [])).toEqual([]);
      return r;
    } finally {
      await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
    }
  }

  it('bytes that are not a tar', async () => {
    const f = path.join(s.dir, 'garbage.tar');
    await writeFile(f, Buffer.alloc(4096, 'garbage '));
    expect(await restoreFails(f)).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringMatching(/garbage.tar is not a readable tar archive|empty or not a tar/) });
  });

  it('a tar that is not a container checkpoint', async () => {
    const dir = path.join(s.dir, 'foreign');
    await mkdir(path.join(dir, 'etc'), { recursive: true });
    await writeFile(path.join(dir, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\n');
    const f = path.join(s.dir, 'foreign.tar');
    await packDirectory(dir, f);
    expect(await restoreFails(f)).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('is not a container checkpoint: it has no config.dump') });
  });

  it('a checkpoint whose CRIU images are gone', async () => {
    const dir = path.join(s.dir, 'broken');
    await unpackArchive(good, dir);
    await rm(path.join(dir, 'checkpoint', 'inventory.img'));
    const f = path.join(s.dir, 'broken.tar');
    await packDirectory(dir, f);
    expect(await restoreFails(f)).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('holds no CRIU images (checkpoint/inventory.img is missing)') });
  });

  it('a config.dump that is not JSON', async () => {
    const dir = path.join(s.dir, 'badjson');
    await unpackArchive(good, dir);
    await writeFile(path.join(dir, 'config.dump'), '{ not json');
    const f = path.join(s.dir, 'badjson.tar');
    await packDirectory(dir, f);
    expect(await restoreFails(f)).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('config.dump is not JSON') });
  });

  it('a pod checkpoint given to CreateContainer, and a missing archive (NOT_FOUND)', async () => {
    const dir = path.join(s.dir, 'podlike');
    await mkdir(dir);
    await writeFile(path.join(dir, 'pod.dump'), '{}');
    expect(await restoreFails(dir)).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('is a pod checkpoint: restore it with RestorePod') });
    expect(await restoreFails(path.join(s.dir, 'missing.tar'))).toMatchObject({ code: grpc.NOT_FOUND, details: expect.stringContaining('does not exist') });
  });
});

describe('CheckpointPod and RestorePod refuse', () => {
  it('an unknown pod, a non-empty directory, and options crius does not define', async () => {
    expect((await fails('CheckpointPod', { podSandboxId: 'no-such', path: path.join(s.dir, 'p0') })).code).toBe(grpc.NOT_FOUND);
    const p = await pod();
    await run(p, 'counter', COUNTER);
    const dir = path.join(s.dir, 'full');
    await mkdir(dir);
    await writeFile(path.join(dir, 'mine'), 'x');
    expect(await fails('CheckpointPod', { podSandboxId: p.id, path: dir })).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('is not empty') });
    expect(await readdir(dir)).toEqual(['mine']);
    const opt = await fails('CheckpointPod', { podSandboxId: p.id, path: path.join(s.dir, 'p1'), options: { leaveRunning: 'false' } });
    expect(opt).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('unsupported option leaveRunning') });
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('a directory that is not a pod checkpoint, and one that does not exist (NOT_FOUND), creating no pod', async () => {
    const dir = path.join(s.dir, 'notapod');
    await mkdir(dir);
    await writeFile(path.join(dir, 'config.dump'), '{}');
    expect(await fails('RestorePod', { path: dir })).toMatchObject({ code: grpc.INVALID_ARGUMENT, details: expect.stringContaining('is not a pod checkpoint: it has no pod.options') });
    expect((await fails('RestorePod', { path: path.join(s.dir, 'nowhere') })).code).toBe(grpc.NOT_FOUND);
    const pods = await cri<{ items: { metadata: { name: string } }[] }>(client, 'ListPodSandbox', {});
    expect(pods.items).toEqual([]);
  });
});
