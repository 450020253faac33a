// exec/attach over SPDY end to end: a client written from the protocol
// (testing/spdy-client.ts) against the real server, whose backend really runs
// the commands on this machine.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingServer } from './server.js';
import { FAILING, LocalBackend } from './testing/local-backend.js';
import { SpdyTestClient, type ClientStream } from './testing/spdy-client.js';
import type { ExecSpec } from './backend.js';

let backend: LocalBackend;
let server: StreamingServer;

beforeAll(async () => {
  backend = new LocalBackend();
  server = new StreamingServer({ backend, port: 0 });
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

function spec(cmd: string[], over: Partial<ExecSpec> = {}): ExecSpec {
  return { containerId: 'ctr-1', cmd, tty: false, stdin: false, stdout: true, stderr: true, ...over };
}

interface Session {
  client: SpdyTestClient;
  error: ClientStream;
  stdin?: ClientStream;
  stdout?: ClientStream;
  stderr?: ClientStream;
  resize?: ClientStream;
}

/** Opens the streams a kubectl-like client opens for this request. */
async function open(url: string, s: ExecSpec, protocols = ['v4.channel.k8s.io']): Promise<Session> {
  const client = await SpdyTestClient.connect(url, { protocols });
  const session: Session = { client, error: client.openStream({ streamtype: 'error' }) };
  if (s.stdin) session.stdin = client.openStream({ streamtype: 'stdin' });
  if (s.stdout) session.stdout = client.openStream({ streamtype: 'stdout' });
  if (s.stderr) session.stderr = client.openStream({ streamtype: 'stderr' });
  if (s.tty && protocols[0] !== 'v2.channel.k8s.io') session.resize = client.openStream({ streamtype: 'resize' });
  await Promise.all([...client.streams.values()].map((st) => st.replied));
  return session;
}

async function statusOf(session: Session): Promise<unknown> {
  return JSON.parse((await session.error.ended).toString());
}

describe('exec over SPDY v4', () => {
  it('returns stdout, stderr and the non-zero exit code as a Status', async () => {
    const s = spec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const session = await open(server.getUrl('exec', s), s);
    expect(session.client.protocol).toBe('v4.channel.k8s.io');
    expect(await statusOf(session)).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect((await session.stdout!.ended).toString()).toBe('out\n');
    expect((await session.stderr!.ended).toString()).toBe('err\n');
    // The server says goodbye and closes the connection.
    await session.client.waitFor((f) => f.type === 'goaway');
    await session.client.closed;
  });

  it('reports success with the exact Status JSON kubectl expects', async () => {
    const s = spec(['true'], { stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    expect((await session.error.ended).toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(session.stdout!.finished).toBe(true);
  });

  it('pipes stdin into the process and its output back, FIN closing stdin', async () => {
    const s = spec(['cat'], { stdin: true, stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    session.stdin!.write('hello\n');
    session.stdin!.write('world\n', true);
    expect((await session.stdout!.ended).toString()).toBe('hello\nworld\n');
    expect(await statusOf(session)).toEqual({ metadata: {}, status: 'Success' });
  });

  it('carries 4 MiB of stdin intact to a sender that honours the windows we grant', async () => {
    const s = spec(['sha256sum'], { stdin: true, stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    const data = randomBytes(4 * 1024 * 1024);
    // Stalls for good unless the server grants stream and session window as the process reads.
    await session.stdin!.writeWithinWindow(data);
    session.stdin!.end();
    const out = (await session.stdout!.ended).toString();
    expect(out.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    const updates = session.client.frames.filter((f) => f.type === 'window_update' && f.streamId === session.stdin!.id);
    expect(updates.length).toBeGreaterThan(0);
  });

  it('reports a backend failure as an InternalError Status', async () => {
    const s = spec([FAILING, 'x']);
    const session = await open(server.getUrl('exec', s), s);
    expect(await statusOf(session)).toMatchObject({
      status: 'Failure',
      reason: 'InternalError',
      code: 500,
      message: 'Internal error occurred: error executing command in container: cannot run __fail__ x: no such container ctr-1',
    });
  });

  it('runs a tty session in a terminal and delivers resizes to the backend', async () => {
    const s = spec(['sh', '-c', 'read line; test -t 0 && test -t 1 && echo "tty:$line"'], { tty: true, stdin: true, stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    session.resize!.write('{"Width":100,"Height":40}\n{"Width":12');
    session.resize!.write('0,"Height":50}\n');
    // Sizes the backend has not taken yet are coalesced: it must end up with the newest.
    const resizes = backend.sessions.at(-1)!.resizes;
    await waitUntil(() => resizes.at(-1)?.width === 120);
    session.stdin!.write('abc\n');
    expect((await session.stdout!.ended).toString()).toContain('tty:abc');
    expect(await statusOf(session)).toEqual({ metadata: {}, status: 'Success' });
    expect(resizes.at(-1)).toEqual({ width: 120, height: 50 });
    for (const r of resizes) expect([{ width: 100, height: 40 }, { width: 120, height: 50 }]).toContainEqual(r);
  });
});

describe('older SPDY protocol versions', () => {
  it('v3 writes a failure as plain text on the error stream', async () => {
    const s = spec(['sh', '-c', 'exit 3'], { stderr: false });
    const session = await open(server.getUrl('exec', s), s, ['v3.channel.k8s.io']);
    expect(session.client.protocol).toBe('v3.channel.k8s.io');
    expect((await session.error.ended).toString()).toBe('command terminated with non-zero exit code: exit status 3');
  });

  it('v2 writes nothing on success and expects no resize stream', async () => {
    const s = spec(['sh', '-c', 'echo hi'], { stderr: false, tty: true });
    const session = await open(server.getUrl('exec', s), s, ['v2.channel.k8s.io']);
    expect((await session.error.ended).length).toBe(0);
    expect((await session.stdout!.ended).toString()).toContain('hi');
  });

  it('negotiates the client-preferred version the server supports', async () => {
    const s = spec(['true'], { stderr: false });
    const session = await open(server.getUrl('exec', s), s, ['v5.channel.k8s.io', 'v3.channel.k8s.io', 'v4.channel.k8s.io']);
    expect(session.client.protocol).toBe('v3.channel.k8s.io');
    await session.error.ended;
  });
});

describe('attach over SPDY', () => {
  it('connects stdin and stdout to the container process', async () => {
    const s = { containerId: 'ctr-2', tty: false, stdin: true, stdout: true, stderr: false };
    const session = await open(server.getUrl('attach', s), { ...s, cmd: [] });
    session.stdin!.write('ping\n', true);
    expect((await session.stdout!.ended).toString()).toBe('ping\n');
    expect(await statusOf(session)).toEqual({ metadata: {}, status: 'Success' });
  });
});

describe('session teardown', () => {
  it('kills the process when the client disappears', async () => {
    const s = spec(['sleep', '1000'], { stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    await waitUntil(() => backend.sessions.at(-1)?.pid !== undefined);
    const record = backend.sessions.at(-1)!;
    session.client.destroy();
    await record.done;
    expect(record.aborted).toBe(true);
    expect(() => process.kill(record.pid!, 0)).toThrow(/ESRCH/);
  });

  it('closes the connection when the client does not open its streams in time', async () => {
    const quick = new StreamingServer({ backend, port: 0, streamCreationTimeoutMs: 200 });
    await quick.start();
    try {
      const before = backend.sessions.length;
      const s = spec(['true']);
      const client = await SpdyTestClient.connect(quick.getUrl('exec', s), { protocols: ['v4.channel.k8s.io'] });
      client.openStream({ streamtype: 'error' });
      await client.closed;
      expect(backend.sessions.length).toBe(before);
    } finally {
      await quick.stop();
    }
  });

  it('resets a second stream of the same type', async () => {
    const s = spec(['sleep', '0.2'], { stderr: false });
    const session = await open(server.getUrl('exec', s), s);
    const dup = session.client.openStream({ streamtype: 'stdout' });
    await dup.ended;
    expect(dup.resetStatus).toBe(1);
    await session.error.ended;
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
