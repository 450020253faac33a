// `crius exec -i`, `attach -i` and `port-forward` end to end: the built CLI
// as a user runs it, through the gateway's streaming server (WebSocket), into
// real containers of a busybox pod.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import { containerConfig, cri, podConfig, startPodStack, waitFor, type PodStack } from '../harness/pod.js';
import { freePort } from '../harness/stack.js';
import { REPO_ROOT } from '../../services/cli/src/launcher/stack.js';
import { CLI } from './helpers.js';

let stack: PodStack;
let client: Client;
let pod: Awaited<ReturnType<typeof podConfig>>;
let podId = '';
const children = new Set<ChildProcessWithoutNullStreams>();

beforeAll(async () => {
  await promisify(execFile)('npx', ['tsc', '-b', 'services/cli'], { cwd: REPO_ROOT });
  stack = await startPodStack();
  client = stack.client;
  pod = await podConfig(stack.s.dir);
  podId = (await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod })).podSandboxId;
}, 180_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
  if (podId) await cri(client, 'RemovePodSandbox', { podSandboxId: podId }).catch(() => undefined);
  await stack?.stop();
});

/** Starts `crius ARGS` with piped stdio; output collects in `out.stdout` / `out.stderr`. */
function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, '--config', stack.s.configPath, ...args], { stdio: 'pipe' });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    return exited;
  };
  return { child, out, exited, kill };
}

async function runContainer(name: string, command: string[], extra = {}): Promise<string> {
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
    podSandboxId: podId,
    config: containerConfig(name, stack.image, command, extra),
    sandboxConfig: pod,
  });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

describe('crius streaming commands', () => {
  let shell: string;

  it('exec -i pipes stdin into sh and passes its output through', async () => {
    shell = await runContainer('shell', ['sleep', '3600']);
    const p = start(['exec', '-i', shell, 'sh']);
    p.child.stdin.end('echo hi; echo err >&2; hostname\n');
    expect(await p.exited).toBe(0);
    expect(p.out).toEqual({ stdout: `hi\n${pod.hostname}\n`, stderr: 'err\n' });
  });

  it('exec -i exits with the command exit code', async () => {
    const p = start(['exec', '-i', 'shell', 'sh', '-c', 'exit 7']);
    p.child.stdin.end();
    expect(await p.exited).toBe(7);
    expect(p.out.stderr).toBe('');
  });

  it('attach -i sends stdin to the container and shows what it prints', async () => {
    await runContainer('echo', ['sh', '-c', 'while read l; do echo got:$l; done'], { stdin: true });
    const p = start(['attach', '-i', 'echo']);
    // Typed at once, as a user would: input sent before the session is up must not be lost.
    p.child.stdin.write('ping\n');
    await waitFor('the echo through attach', async () => (p.out.stdout.includes('got:ping\n') ? true : undefined), 20_000);
    expect(p.out.stderr).toBe('');
    expect(await p.kill()).toBe('SIGKILL');
  });

  it('port-forward relays HTTP to busybox httpd in the pod', async () => {
    const www = await mkdtemp(path.join(stack.s.dir, 'www-'));
    const blob = randomBytes(512 * 1024);
    await writeFile(path.join(www, 'blob'), blob);
    await runContainer('httpd', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], {
      mounts: [{ containerPath: '/www', hostPath: www, readonly: true }],
    });
    const local = await freePort();
    const p = start(['port-forward', podId.slice(0, 13), `${local}:8080`]);
    await waitFor('port-forward to listen', async () => (p.out.stdout.includes('\n') ? true : undefined), 15_000);
    expect(p.out.stdout).toBe(`Forwarding from 127.0.0.1:${local} -> 8080\n`);
    // httpd may still be starting: retry until it answers.
    const body = await waitFor('httpd through port-forward', async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${local}/blob`);
        return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
      } catch {
        return undefined;
      }
    }, 15_000);
    expect(body.equals(blob)).toBe(true);
    // A second connection gets its own single-use URL.
    const again = await fetch(`http://127.0.0.1:${local}/blob`);
    expect(Buffer.from(await again.arrayBuffer()).equals(blob)).toBe(true);
    expect(await p.kill()).toBe('SIGKILL');
  });

  it('removes the pod', async () => {
    await cri(client, 'StopPodSandbox', { podSandboxId: podId });
    await cri(client, 'RemovePodSandbox', { podSandboxId: podId });
    expect((await cri<{ items: unknown[] }>(client, 'ListPodSandbox', {})).items).toEqual([]);
    podId = '';
  });
});
