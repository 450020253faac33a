// Exec, attach and port-forward driven by a client crius did not write: the
// official Kubernetes Python client's WebSocket stack (python3-kubernetes on
// Debian, run by /usr/bin/python3), given the URL the CRI call returned, as
// the API server would after its kubelet proxy. It offers v4.channel.k8s.io.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, startPodStack, waitFor, type PodStack } from '../harness/pod.js';
import { REPO_ROOT } from '../../services/cli/src/launcher/stack.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const DRIVER = path.join(REPO_ROOT, 'test/clients/k8s_stream.py');

let stack: PodStack;
let s: TestStack;
let client: Client;
let image: string;
let pod: Awaited<ReturnType<typeof podConfig>>;
let podId: string;

beforeAll(async () => {
  stack = await startPodStack();
  ({ s, client, image } = stack);
  pod = await podConfig(s.dir);
  podId = (await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod })).podSandboxId;
});
afterAll(async () => {
  if (podId) await cri(client, 'RemovePodSandbox', { podSandboxId: podId }).catch(() => undefined);
  await stack?.stop();
});

async function python<T>(...args: string[]): Promise<T> {
  const { stdout } = await run(PYTHON, [DRIVER, ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

async function runContainer(name: string, command: string[], extra = {}): Promise<string> {
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
    podSandboxId: podId,
    config: containerConfig(name, image, command, extra),
    sandboxConfig: pod,
  });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

type ExecResult = { stdout: string; stderr: string; returncode: number; error: string; protocol: string };
const V4 = 'v4.channel.k8s.io';

describe('the Kubernetes Python client', () => {
  let shell: string;

  it('is the Debian package, and offers v4.channel.k8s.io', async () => {
    const { stdout } = await run(PYTHON, ['-c', 'import kubernetes, inspect; from kubernetes.stream import ws_client; print(kubernetes.__version__); print("v4.channel.k8s.io" in inspect.getsource(ws_client.create_websocket))']);
    expect(stdout.split('\n').slice(0, 2)).toEqual([expect.stringMatching(/^22\./), 'True']);
  });

  it('execs with stdin, gets stdout and stderr apart, and the exit code from the v4 error channel', async () => {
    shell = await runContainer('shell', ['sleep', '3600']);
    const { url } = await cri<{ url: string }>(client, 'Exec', {
      containerId: shell,
      cmd: ['sh', '-c', 'read l; echo "in:$l"; echo "host:$(hostname)"; echo oops >&2; exit 3'],
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const r = await python<ExecResult>('exec', url, 'hello\n');
    expect(r.protocol).toBe(V4);
    expect(r.stdout).toBe(`in:hello\nhost:${pod.hostname}\n`);
    expect(r.stderr).toBe('oops\n');
    expect(r.returncode).toBe(3);
    expect(JSON.parse(r.error)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });

  it('execs a command that succeeds: Success on the error channel, return code 0', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['echo', 'fine'], stdout: true });
    const r = await python<ExecResult>('exec', url, '');
    expect(r).toMatchObject({ stdout: 'fine\n', stderr: '', returncode: 0 });
    expect(JSON.parse(r.error)).toMatchObject({ status: 'Success' });
  });

  it('execs with a terminal', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['sh', '-c', 'tty; exit 4'], stdout: true, tty: true });
    const r = await python<ExecResult>('exec', url, '');
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect(r.returncode).toBe(4);
  });

  it('attaches to a running container that echoes its stdin', async () => {
    const echo = await runContainer('echo', ['sh', '-c', 'while read l; do echo "got:$l"; done'], { stdin: true });
    const { url } = await cri<{ url: string }>(client, 'Attach', { containerId: echo, stdin: true, stdout: true });
    const r = await python<{ stdout: string; protocol: string }>('attach', url, 'ping', 'got:ping\n');
    expect(r).toEqual({ stdout: 'got:ping\n', protocol: V4 });
  });

  it('port-forwards to busybox httpd in the pod: 4 MiB intact', async () => {
    const www = await mkdtemp(path.join(s.dir, 'www-'));
    const blob = randomBytes(4 * 1024 * 1024);
    await writeFile(path.join(www, 'blob'), blob);
    const httpd = await runContainer('httpd', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], { mounts: [{ containerPath: '/www', hostPath: www, readonly: true }] });
    // httpd listens once port 8080 (0x1F90) shows as LISTEN (0A) in the pod's network namespace (v4 or v6 socket).
    await waitFor('httpd to listen', async () => {
      const r = await cri<{ stdout: Buffer }>(client, 'ExecSync', { containerId: httpd, cmd: ['cat', '/proc/net/tcp', '/proc/net/tcp6'], timeout: 10 });
      return /:1F90 \S+ 0A /.test(Buffer.from(r.stdout).toString()) ? true : undefined;
    }, 20_000);
    const { url } = await cri<{ url: string }>(client, 'PortForward', { podSandboxId: podId, port: [8080] });
    const r = await python<{ status: string; length: number; sha256: string; error: string | null; protocol: string }>('portforward', url, '8080', '/blob');
    expect(r.protocol).toBe(V4);
    expect(r.status).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(r.length).toBe(blob.length);
    expect(r.sha256).toBe(createHash('sha256').update(blob).digest('hex'));
    expect(r.error).toBeNull();
  });
});
