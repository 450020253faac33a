// exec/attach over WebSocket end to end, with the `ws` package as the client
// (as current kubectl speaks v5.channel.k8s.io) and a backend running real
// commands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StreamingServer } from './server.js';
import { LocalBackend } from './testing/local-backend.js';
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
  return { containerId: 'ctr-ws', cmd, tty: false, stdin: false, stdout: true, stderr: true, ...over };
}

interface WsSession {
  ws: WebSocket;
  messages: Buffer[];
  /** Resolves with the close code once the server closed. */
  closed: Promise<number>;
  opened: Promise<void>;
}

function connect(url: string, protocol: string): WsSession {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocol ? [protocol] : []);
  const messages: Buffer[] = [];
  ws.on('message', (data: Buffer) => messages.push(Buffer.from(data)));
  return {
    ws,
    messages,
    closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
  };
}

function channel(s: WsSession, ch: number): string {
  return Buffer.concat(s.messages.filter((m) => m[0] === ch).map((m) => m.subarray(1))).toString();
}

const send = (s: WsSession, ch: number, data: string | number[]) =>
  s.ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data as string)]));

describe('exec over WebSocket v5', () => {
  it('streams stdin/stdout/stderr, honours the stdin close signal and sends the Status', async () => {
    const s = spec(['sh', '-c', 'cat; echo err >&2; exit 7'], { stdin: true });
    const session = connect(server.getUrl('exec', s), 'v5.channel.k8s.io');
    await session.opened;
    expect(session.ws.protocol).toBe('v5.channel.k8s.io');
    send(session, 0, 'hi\n');
    send(session, 255, [0]); // close stdin
    expect(await session.closed).toBe(1000);
    // The first message is the empty "connected" frame on stdout.
    expect(session.messages[0]).toEqual(Buffer.from([1]));
    expect(channel(session, 1)).toBe('hi\n');
    expect(channel(session, 2)).toBe('err\n');
    expect(JSON.parse(channel(session, 3))).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 7',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    });
  });

  it('delivers resize messages to a tty session', async () => {
    const s = spec(['sh', '-c', 'read x; echo "got:$x"'], { tty: true, stdin: true, stderr: false });
    const session = connect(server.getUrl('exec', s), 'v5.channel.k8s.io');
    await session.opened;
    send(session, 4, '{"Width":80,"Height":25}');
    send(session, 4, '{"Width":132,"Height":43}');
    const record = () => backend.sessions.at(-1)!;
    await waitUntil(() => record().resizes.length > 0 && record().resizes.at(-1)!.width === 132);
    send(session, 0, 'abc\n');
    expect(await session.closed).toBe(1000);
    expect(channel(session, 1)).toContain('got:abc');
    expect(record().resizes.at(-1)).toEqual({ width: 132, height: 43 });
    expect(channel(session, 3)).toBe('{"metadata":{},"status":"Success"}');
  });
});

describe('older WebSocket protocols', () => {
  it('v4 sends the JSON Status without needing a close signal', async () => {
    const s = spec(['sh', '-c', 'echo v4'], { stderr: false });
    const session = connect(server.getUrl('exec', s), 'v4.channel.k8s.io');
    expect(await session.closed).toBe(1000);
    expect(channel(session, 1)).toBe('v4\n');
    expect(channel(session, 3)).toBe('{"metadata":{},"status":"Success"}');
  });

  it('channel.k8s.io (v1) writes a failure as text', async () => {
    const s = spec(['sh', '-c', 'exit 2'], { stdout: false, stderr: true });
    const session = connect(server.getUrl('exec', s), 'channel.k8s.io');
    expect(await session.closed).toBe(1000);
    // With no stdout, the "connected" frame goes on stderr.
    expect(session.messages[0]).toEqual(Buffer.from([2]));
    expect(channel(session, 3)).toBe('command terminated with non-zero exit code: exit status 2');
  });

  it('refuses a client offering only protocols it does not speak', async () => {
    const s = spec(['true']);
    const session = connect(server.getUrl('exec', s), 'v9.channel.k8s.io');
    await expect(session.opened).rejects.toThrow(/403/);
  });
});

describe('attach over WebSocket', () => {
  it('echoes through the attached process', async () => {
    const s = { containerId: 'ctr-a', tty: false, stdin: true, stdout: true, stderr: false };
    const session = connect(server.getUrl('attach', s), 'v5.channel.k8s.io');
    await session.opened;
    send(session, 0, 'attached\n');
    send(session, 255, [0]);
    expect(await session.closed).toBe(1000);
    expect(channel(session, 1)).toBe('attached\n');
    expect(channel(session, 3)).toBe('{"metadata":{},"status":"Success"}');
  });
});

describe('WebSocket session teardown', () => {
  it('kills the process when the client disappears', async () => {
    const s = spec(['sleep', '1000'], { stderr: false });
    const session = connect(server.getUrl('exec', s), 'v5.channel.k8s.io');
    await session.opened;
    await waitUntil(() => backend.sessions.at(-1)?.pid !== undefined);
    const record = backend.sessions.at(-1)!;
    expect((record.req as ExecSpec).cmd).toEqual(['sleep', '1000']);
    session.ws.terminate();
    await record.done;
    expect(record.aborted).toBe(true);
    expect(() => process.kill(record.pid!, 0)).toThrow(/ESRCH/);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
