// Exec, attach and port-forward as kubectl/crictl use them: the CRI call to
// the gateway returns a URL, the client speaks SPDY or WebSocket to the
// gateway's streaming server, and the session runs in runtime-svc (runc exec,
// conmon's exec mode for a terminal, conmon's attach socket) or network-svc (a connection inside the pod's
// network namespace) over the bus pipe. Real runc, conmon, CNI.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, waitFor, startPodStack, type PodStack } from '../harness/pod.js';
import { SpdyTestClient, type ClientStream } from '../../services/cri-gateway/src/streaming/testing/spdy-client.js';

let stack: PodStack;
let s: TestStack;
let client: Client;
let image: string;
let pod: Awaited<ReturnType<typeof podConfig>>;
let podId: string;
let www: string;
const BLOB = randomBytes(10 * 1024 * 1024);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  stack = await startPodStack();
  ({ s, client, image } = stack);
  www = await mkdtemp(path.join(s.dir, 'www-'));
  await writeFile(path.join(www, 'blob'), BLOB);
  pod = await podConfig(s.dir);
  podId = (await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod })).podSandboxId;
});
afterAll(async () => {
  if (podId) await cri(client, 'RemovePodSandbox', { podSandboxId: podId }).catch(() => undefined);
  await stack?.stop();
});

async function runContainer(name: string, command: string[], extra = {}): Promise<string> {
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
    podSandboxId: podId,
    config: containerConfig(name, image, command, extra),
    sandboxConfig: pod,
  });
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

/** kubectl's SPDY exec/attach: error, stdin, stdout, stderr (and with a terminal, resize) streams. */
async function spdySession(url: string, want: { stdin?: boolean; stdout?: boolean; stderr?: boolean; resize?: boolean }) {
  const c = await SpdyTestClient.connect(url, { protocols: ['v4.channel.k8s.io'] });
  const streams: Record<string, ClientStream> = { error: c.openStream({ streamtype: 'error' }) };
  for (const t of ['stdin', 'stdout', 'stderr', 'resize'] as const) if (want[t]) streams[t] = c.openStream({ streamtype: t });
  await Promise.all([...c.streams.values()].map((st) => st.replied));
  return { c, streams };
}

function wsConnect(url: string, protocol: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
  const messages: Buffer[] = [];
  ws.on('message', (d: Buffer) => messages.push(Buffer.from(d)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const channel = (ch: number) => Buffer.concat(messages.filter((m) => m[0] === ch).map((m) => m.subarray(1)));
  const send = (ch: number, data: Buffer | string | number[]) => ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data as string)]));
  return { ws, messages, opened, closed, channel, send };
}

describe('streaming through the gateway', () => {
  let shell: string;

  it('execs with stdin piped in over SPDY and returns the exit code', async () => {
    shell = await runContainer('shell', ['sleep', '3600']);
    const { url } = await cri<{ url: string }>(client, 'Exec', {
      containerId: shell,
      cmd: ['sh', '-c', 'read l; echo "in:$l"; echo "host:$(hostname)"; echo oops >&2; exit 3'],
      stdin: true,
      stdout: true,
      stderr: true,
    });
    expect(url).toMatch(new RegExp(`^http://${s.config.api.streaming_address}/exec/`));
    const { c, streams } = await spdySession(url, { stdin: true, stdout: true, stderr: true });
    streams.stdin!.write('from-spdy\n', true);
    const status = JSON.parse((await streams.error!.ended).toString());
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    expect((await streams.stdout!.ended).toString()).toBe(`in:from-spdy\nhost:${pod.hostname}\n`);
    expect((await streams.stderr!.ended).toString()).toBe('oops\n');
    c.destroy();
  });

  it('execs over WebSocket v5 with the stdin close signal', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['cat'], stdin: true, stdout: true });
    const ws = wsConnect(url, 'v5.channel.k8s.io');
    await ws.opened;
    ws.send(0, 'hello ws\n');
    ws.send(255, [0]);
    expect(await ws.closed).toBe(1000);
    expect(ws.channel(1).toString()).toBe('hello ws\n');
    expect(JSON.parse(ws.channel(3).toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  it('execs sh with a terminal over SPDY and returns its exit code', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['sh'], tty: true, stdin: true, stdout: true });
    const { c, streams } = await spdySession(url, { stdin: true, stdout: true, resize: true });
    streams.stdin!.write('echo hi; exit 5\n');
    const status = JSON.parse((await streams.error!.ended).toString());
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '5' }] } });
    // A terminal echoes the input and ends lines with \r\n.
    expect((await streams.stdout!.ended).toString()).toMatch(/\r\nhi\r\n/);
    c.destroy();
  });

  it('execs with a terminal over WebSocket v5, and a resize reaches the terminal', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['sh'], tty: true, stdin: true, stdout: true });
    const ws = wsConnect(url, 'v5.channel.k8s.io');
    await ws.opened;
    ws.send(4, JSON.stringify({ Width: 123, Height: 45 }));
    // The resize and stdin travel separately, so the first stty may still see the old size:
    // ask, wait for that answer, and ask again until it shows the new one.
    const sizes = (): string[] => ws.channel(1).toString().match(/\n\d+ \d+\r\n/g) ?? [];
    await waitFor('stty to show the new size', async () => {
      if (sizes().includes('\n45 123\r\n')) return true;
      const asked = sizes().length;
      ws.send(0, 'busybox stty size\n');
      await waitFor('an answer from stty', async () => (sizes().length > asked ? true : undefined));
      return undefined;
    }, 20_000);
    ws.send(0, 'tty; exit 0\n');
    expect(await ws.closed).toBe(1000);
    expect(ws.channel(1).toString()).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(JSON.parse(ws.channel(3).toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  it('exec with a terminal is killed when the client goes away', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['sh', '-c', 'echo started; exec sleep 1001'], tty: true, stdout: true });
    const { c, streams } = await spdySession(url, { stdout: true, resize: true });
    await waitFor('exec output', async () => (streams.stdout!.text.includes('started') ? true : undefined));
    const sleepers = async () => {
      const r = await cri<{ stdout: Buffer }>(client, 'ExecSync', { containerId: shell, cmd: ['sh', '-c', 'ps -o args | grep -c "^sleep 1001" || true'], timeout: 10 });
      return Buffer.from(r.stdout).toString().trim();
    };
    expect(await sleepers()).toBe('1');
    c.destroy();
    await waitFor('terminal exec process to be killed', async () => ((await sleepers()) === '0' ? true : undefined), 15_000);
  });

  it('exec of a long-running command is killed when the client goes away', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['sh', '-c', 'echo started; exec sleep 1000'], stdout: true });
    const { c, streams } = await spdySession(url, { stdout: true });
    await waitFor('exec output', async () => (streams.stdout!.text.includes('started') ? true : undefined));
    const sleepers = async () => {
      const r = await cri<{ stdout: Buffer }>(client, 'ExecSync', { containerId: shell, cmd: ['sh', '-c', 'ps -o args | grep -c "^sleep 1000" || true'], timeout: 10 });
      return Buffer.from(r.stdout).toString().trim();
    };
    expect(await sleepers()).toBe('1');
    c.destroy();
    // The exec'd sleep dies with the session.
    await waitFor('exec process to be killed', async () => ((await sleepers()) === '0' ? true : undefined), 15_000);
  });

  it('rejects exec into a container that does not exist or does not run, with clear messages', async () => {
    await expect(cri(client, 'Exec', { containerId: 'no-such-container', cmd: ['true'], stdout: true })).rejects.toMatchObject({ code: 5 });
    const done = await runContainer('done', ['true']);
    await waitFor('container to exit', async () => {
      const st = await cri<{ status: { state: number } }>(client, 'ContainerStatus', { containerId: done });
      return st.status.state === 2 ? true : undefined;
    });
    await expect(cri(client, 'Exec', { containerId: done, cmd: ['true'], stdout: true })).rejects.toThrow(/is not running \(state exited\)/);
    await expect(cri(client, 'Exec', { containerId: shell, cmd: ['true'] })).rejects.toThrow(/one of stdin, stdout and stderr/);
  });

  it('attaches to a running container that echoes its stdin', async () => {
    const echo = await runContainer('echo', ['sh', '-c', 'while read l; do echo got:$l; done'], { stdin: true });
    const { url } = await cri<{ url: string }>(client, 'Attach', { containerId: echo, stdin: true, stdout: true, stderr: true });
    const { c, streams } = await spdySession(url, { stdin: true, stdout: true, stderr: true });
    streams.stdin!.write('one\n');
    await waitFor('first echo', async () => (streams.stdout!.text === 'got:one\n' ? true : undefined));
    streams.stdin!.write('two\n');
    await waitFor('second echo', async () => (streams.stdout!.text === 'got:one\ngot:two\n' ? true : undefined));
    c.destroy();
    // Attach over WebSocket too: the container kept running after the first client left.
    const again = await cri<{ url: string }>(client, 'Attach', { containerId: echo, stdin: true, stdout: true });
    const ws = wsConnect(again.url, 'v5.channel.k8s.io');
    await ws.opened;
    ws.send(0, 'three\n');
    await waitFor('echo over ws', async () => (ws.channel(1).toString().includes('got:three\n') ? true : undefined));
    ws.ws.close();
  });

  it('port-forwards to busybox httpd in the pod: 10 MiB intact', async () => {
    await runContainer('httpd', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], { mounts: [{ containerPath: '/www', hostPath: www, readonly: true }] });
    const get = async () => {
      const { url } = await cri<{ url: string }>(client, 'PortForward', { podSandboxId: podId, port: [8080] });
      const c = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
      const hdr = (t: string) => ({ streamtype: t, port: '8080', requestid: '0' });
      const error = c.openStream(hdr('error'));
      const data = c.openStream(hdr('data'));
      data.write('GET /blob HTTP/1.0\r\n\r\n');
      const response = await data.ended;
      c.destroy();
      return { response, error: (await error.ended).toString() };
    };
    const { response, error } = await waitFor('httpd to answer', async () => {
      const r = await get();
      return r.response.length > 0 ? r : undefined;
    }, 15_000);
    expect(error).toBe('');
    expect(response.subarray(0, 15).toString()).toMatch(/^HTTP\/1\.[01] 200 OK$/);
    const body = response.subarray(response.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBe(BLOB.length);
    expect(sha(body)).toBe(sha(BLOB));
  });

  it('reports a closed port on the error stream', async () => {
    const { url } = await cri<{ url: string }>(client, 'PortForward', { podSandboxId: podId, port: [9999] });
    const c = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    const error = c.openStream({ streamtype: 'error', port: '9999', requestid: '0' });
    c.openStream({ streamtype: 'data', port: '9999', requestid: '0' });
    expect((await error.ended).toString()).toMatch(/error forwarding port 9999 to pod .*refused/i);
    c.destroy();
  });

  it('answers a used URL with 404', async () => {
    const { url } = await cri<{ url: string }>(client, 'Exec', { containerId: shell, cmd: ['true'], stdout: true });
    const first = await spdySession(url, { stdout: true });
    await first.streams.error!.ended;
    first.c.destroy();
    await expect(SpdyTestClient.connect(url, { protocols: ['v4.channel.k8s.io'] })).rejects.toThrow(/404/);
  });

  it('removes the pod', async () => {
    await cri(client, 'StopPodSandbox', { podSandboxId: podId });
    await cri(client, 'RemovePodSandbox', { podSandboxId: podId });
    const list = await cri<{ items: unknown[] }>(client, 'ListPodSandbox', {});
    expect(list.items).toEqual([]);
    podId = '';
  });
});
