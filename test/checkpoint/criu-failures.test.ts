// Issue 20: a CRIU that fails `criu check`, and a dump that never finishes.
// runtime.criu_path points at a stand-in program (a real executable runc
// runs) that reports a kernel it cannot use, or, once "fixed", passes the
// check and then hangs in `criu swrk` as a stuck dump would. The timeout is
// honoured: DEADLINE_EXCEEDED, the container resumed and running, the stuck
// runtime and CRIU killed, nothing left behind.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { status as grpc, type Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, usePodStack, waitFor } from '../harness/pod.js';
import { COUNTER, counts, last } from './helpers.js';

let fake = '';
let fakeDir = '';
async function fakeCriu(): Promise<string> {
  fakeDir = await mkdtemp(path.join(os.tmpdir(), 'crius-fake-criu-'));
  fake = path.join(fakeDir, 'criu');
  await writeFile(
    fake,
    `#!/bin/sh
case "$1" in
  --version) echo "Version: 4.1.1" ;;
  check) if [ -e ${fakeDir}/broken ]; then echo "Error (criu/cr-check.c:1): kernel lacks userfaultfd" >&2; echo "Looks bad." >&2; exit 1; fi; echo "Looks good." ;;
  *) exec sleep 600 ;;
esac
`,
  );
  await chmod(fake, 0o755);
  await writeFile(path.join(fakeDir, 'broken'), '');
  return `[runtime]\ncriu_path = "${fake}"\ncheckpoint_timeout = 120\n`;
}

let s: TestStack;
let client: Client;
let image: string;
usePodStack((p) => ({ s, client, image } = p), fakeCriu);
afterAll(async () => {
  if (fakeDir) await rm(fakeDir, { recursive: true, force: true });
});

/** PIDs of processes running our stand-in CRIU (a stuck dump left behind would show here). */
async function fakeCriuProcesses(): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(fakeDir) && !cmd.includes('vitest')) out.push(Number(pid));
  }
  return out;
}

describe('CheckpointContainer with a CRIU that cannot work', () => {
  it('is FAILED_PRECONDITION naming why criu check fails, and the container runs on', async () => {
    const config = await podConfig(s.dir);
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config });
    const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', { podSandboxId, config: containerConfig('counter', image, COUNTER), sandboxConfig: config });
    await cri(client, 'StartContainer', { containerId });
    const out = path.join(s.dir, 'out');
    await mkdir(out);
    const r = await callCri(client, 'CheckpointContainer', { containerId, location: path.join(out, 'c.tar') }, 60_000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(grpc.FAILED_PRECONDITION);
      expect(r.error.details).toContain(`${fake} check`);
      expect(r.error.details).toContain('kernel lacks userfaultfd');
    }
    expect(await readdir(out)).toEqual([]);

    // Fixed, but the dump hangs: the request's timeout stops it.
    await rm(path.join(fakeDir, 'broken'));
    const log = path.join(config.logDirectory, 'counter/0.log');
    const started = Date.now();
    const t = await callCri(client, 'CheckpointContainer', { containerId, location: path.join(out, 'c.tar'), timeout: 3 }, 60_000);
    expect(t.ok).toBe(false);
    if (!t.ok) {
      expect(t.error.code).toBe(grpc.DEADLINE_EXCEEDED);
      expect(t.error.details).toMatch(/did not finish within 3 s/);
    }
    expect(Date.now() - started).toBeLessThan(50_000);
    expect(await readdir(out)).toEqual([]);
    expect(await fakeCriuProcesses()).toEqual([]);
    // Resumed (a frozen container would neither exec nor count).
    const st = await cri<{ status: { state: number } }>(client, 'ContainerStatus', { containerId });
    expect(st.status.state).toBe(1);
    const exec = await cri<{ stdout: Uint8Array; exitCode: number }>(client, 'ExecSync', { containerId, cmd: ['echo', 'alive'], timeout: 10 });
    expect(Buffer.from(exec.stdout).toString()).toBe('alive\n');
    const now = last(await counts(log));
    await waitFor('the container to keep counting', async () => (last(await counts(log)) > now ? true : undefined));
    await cri(client, 'RemovePodSandbox', { podSandboxId });
  });
});
