// Port-forward end to end over SPDY and WebSocket: the backend dials real
// loopback servers, the clients speak the Kubernetes protocols.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StreamingServer } from './server.js';
import { LocalBackend } from './testing/local-backend.js';
import { SpdyTestClient, type ClientStream } from './testing/spdy-client.js';

const BLOB = randomBytes(10 * 1024 * 1024);
const BLOB_SHA = createHash('sha256').update(BLOB).digest('hex');

let backend: LocalBackend;
let server: StreamingServer;
let http: Server; // answers any request with BLOB (HTTP/1.0: close after)
let echo: Server; // reads until the client half-closes, then answers with what it got
let hold: Server; // accepts and holds connections
const held: Socket[] = [];
let closedPort: number;

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
}

beforeAll(async () => {
  backend = new LocalBackend();
  server = new StreamingServer({ backend, port: 0 });
  await server.start();
  http = createServer((sock) => {
    sock.once('data', () => {
      sock.write(`HTTP/1.0 200 OK\r\nContent-Length: ${BLOB.length}\r\n\r\n`);
      sock.end(BLOB);
    });
  });
  echo = createServer({ allowHalfOpen: true }, (sock) => {
    const got: Buffer[] = [];
    sock.on('data', (c: Buffer) => got.push(c));
    sock.on('end', () => sock.end(`echo:${Buffer.concat(got).toString()}`));
  });
  hold = createServer((sock) => held.push(sock));
  await Promise.all([listen(http), listen(echo), listen(hold)]);
  const tmp = createServer();
  closedPort = await listen(tmp);
  await new Promise((r) => tmp.close(r));
});

afterAll(async () => {
  await server.stop();
  for (const s of held) s.destroy();
  await Promise.all([http, echo, hold].map((s) => new Promise((r) => s.close(r))));
});

const port = (s: Server) => (s.address() as { port: number }).port;

function bodyOf(response: Buffer): Buffer {
  const end = response.indexOf('\r\n\r\n');
  expect(response.subarray(0, 15).toString()).toBe('HTTP/1.0 200 OK');
  return response.subarray(end + 4);
}

function pair(client: SpdyTestClient, p: number, requestId?: string): { error: ClientStream; data: ClientStream } {
  const headers = (type: string) => ({ streamtype: type, port: String(p), ...(requestId === undefined ? {} : { requestid: requestId }) });
  return { error: client.openStream(headers('error')), data: client.openStream(headers('data')) };
}

describe('port-forward over SPDY', () => {
  it('fetches 10 MiB from a loopback HTTP server intact', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    expect(client.protocol).toBe('portforward.k8s.io');
    const { error, data } = pair(client, port(http), '0');
    data.write('GET /blob HTTP/1.0\r\n\r\n', true);
    const body = bodyOf(await data.ended);
    expect(body.length).toBe(BLOB.length);
    expect(createHash('sha256').update(body).digest('hex')).toBe(BLOB_SHA);
    expect((await error.ended).length).toBe(0); // no error: closed empty
    client.destroy();
  });

  it('runs concurrent requests on one connection, with a client that does flow control', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'], flowControl: true });
    const pairs = ['1', '2', '3'].map((id) => pair(client, port(http), id));
    for (const p of pairs) p.data.write('GET / HTTP/1.0\r\n\r\n', true);
    const bodies = await Promise.all(pairs.map(async (p) => bodyOf(await p.data.ended)));
    for (const b of bodies) expect(createHash('sha256').update(b).digest('hex')).toBe(BLOB_SHA);
    client.destroy();
  });

  it('keeps the backend readable after the client half-closes', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    const { data } = pair(client, port(echo), '7');
    data.write('part1,');
    data.write('part2', true);
    expect((await data.ended).toString()).toBe('echo:part1,part2');
    client.destroy();
  });

  it('pairs streams of old clients that send no request id', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, {});
    const { data } = pair(client, port(echo));
    data.write('old', true);
    expect((await data.ended).toString()).toBe('echo:old');
    client.destroy();
  });

  it('reports a refused connection on the error stream', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-9', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    const { error, data } = pair(client, closedPort, '0');
    expect((await error.ended).toString()).toMatch(new RegExp(`^error forwarding port ${closedPort} to pod pod-9: .*ECONNREFUSED`));
    await data.ended;
    expect(data.finished).toBe(true);
    client.destroy();
  });

  it('refuses streams without a valid port header', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    const s = client.openStream({ streamtype: 'data', port: '0' });
    await s.ended;
    expect(s.resetStatus).toBe(3); // REFUSED_STREAM
    client.destroy();
  });

  it('closes the backend connection when the client disappears', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] });
    const client = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'] });
    const before = held.length;
    pair(client, port(hold), '0');
    await waitUntil(() => held.length === before + 1);
    const target = held.at(-1)!;
    const closed = new Promise((r) => target.once('close', r));
    client.destroy();
    await closed;
    expect(backend.dialed.at(-1)!.socket.destroyed).toBe(true);
  });
});

describe('port-forward over WebSocket', () => {
  async function fetchOverWs(url: string, protocol: string): Promise<{ messages: Buffer[]; code: number }> {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
    const messages: Buffer[] = [];
    ws.on('message', (m: Buffer) => {
      messages.push(Buffer.from(m));
      // Ask once both channels announced the port.
      if (messages.length === 2) ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
    });
    const code = await new Promise<number>((resolve, reject) => {
      ws.once('close', resolve);
      ws.once('error', reject);
    });
    return { messages, code };
  }

  it('fetches 10 MiB intact, after the port prefix on both channels', async () => {
    const p = port(http);
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [p] });
    const { messages, code } = await fetchOverWs(url, 'v4.channel.k8s.io');
    expect(code).toBe(1000);
    const prefix = Buffer.from([p & 0xff, p >> 8]);
    expect(messages[0]).toEqual(Buffer.concat([Buffer.from([0]), prefix]));
    expect(messages[1]).toEqual(Buffer.concat([Buffer.from([1]), prefix]));
    const data = Buffer.concat(messages.slice(2).filter((m) => m[0] === 0).map((m) => m.subarray(1)));
    const body = bodyOf(data);
    expect(createHash('sha256').update(body).digest('hex')).toBe(BLOB_SHA);
    expect(messages.some((m, i) => i > 1 && m[0] === 1)).toBe(false);
  });

  it('takes the ports from the query when the request named none', async () => {
    const p = port(http);
    const url = `${server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [] })}?port=${p}`;
    const { messages } = await fetchOverWs(url, 'v4.portforward.k8s.io');
    expect(messages[0]!.readUInt16LE(1)).toBe(p);
    expect(bodyOf(Buffer.concat(messages.slice(2).filter((m) => m[0] === 0).map((m) => m.subarray(1)))).length).toBe(BLOB.length);
  });

  it('reports a refused connection on the error channel', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-9', ports: [closedPort] });
    const { messages, code } = await fetchOverWs(url, 'v4.channel.k8s.io');
    expect(code).toBe(1000);
    const errors = Buffer.concat(messages.slice(2).filter((m) => m[0] === 1).map((m) => m.subarray(1))).toString();
    expect(errors).toMatch(/^error forwarding port \d+ to pod pod-9: .*ECONNREFUSED/);
  });

  it('closes the backend connection when the client disappears', async () => {
    const url = server.getUrl('portforward', { podSandboxId: 'pod-1', ports: [port(hold)] });
    const before = held.length;
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    await new Promise((r) => ws.once('open', r));
    await waitUntil(() => held.length === before + 1);
    const closed = new Promise((r) => held.at(-1)!.once('close', r));
    ws.terminate();
    await closed;
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
