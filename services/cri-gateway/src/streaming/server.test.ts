// The streaming server's HTTP side: routes, single-use expiring tokens,
// upgrade and protocol negotiation failures, TLS, stop(), and SPDY
// connection-level behaviour (PING, malformed frames).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { StreamingServer } from './server.js';
import { LocalBackend } from './testing/local-backend.js';
import { SpdyTestClient, httpUpgrade } from './testing/spdy-client.js';
import type { ExecSpec } from './backend.js';

const SPDY = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' };
const echo: ExecSpec = { containerId: 'c', cmd: ['echo', 'hi'], tty: false, stdin: false, stdout: true, stderr: false };

let backend: LocalBackend;
let server: StreamingServer;

beforeAll(async () => {
  backend = new LocalBackend();
  server = new StreamingServer({ backend, port: 0, tokenTtlMs: 300 });
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

/** Sends the request and returns status + body; the socket is closed afterwards. */
async function request(url: string, headers: Record<string, string | string[]>, method = 'POST') {
  const res = await httpUpgrade(url, headers, method);
  res.socket.destroy();
  return res;
}

describe('URLs and tokens', () => {
  it('hands out http://address:port/<kind>/<token> URLs', () => {
    const url = new URL(server.getUrl('exec', echo));
    expect(url.origin).toBe(server.baseUrl);
    expect(url.pathname).toMatch(/^\/exec\/[A-Za-z0-9_-]{43}$/);
    expect(server.getUrl('portforward', { podSandboxId: 'p', ports: [80] })).toMatch(/\/portforward\//);
  });

  it('refuses requests the kubelet would refuse', () => {
    expect(() => server.getUrl('exec', { ...echo, tty: true, stderr: true })).toThrow(InvalidArgumentError);
  });

  it('serves a token once: the second use is 404', async () => {
    const url = server.getUrl('exec', echo);
    const first = await request(url, SPDY);
    expect(first.status).toBe(101);
    const second = await request(url, SPDY);
    expect(second.status).toBe(404);
  });

  it('answers 404 for an expired token', async () => {
    const url = server.getUrl('exec', echo);
    await new Promise((r) => setTimeout(r, 350));
    expect((await request(url, SPDY)).status).toBe(404);
  });

  it('answers 404 for a token used on the wrong route, or an unknown path', async () => {
    const url = server.getUrl('exec', echo);
    expect((await request(url.replace('/exec/', '/attach/'), SPDY)).status).toBe(404);
    expect((await request(`${server.baseUrl}/other/thing`, SPDY)).status).toBe(404);
  });

  it('answers 405 for methods other than GET and POST', async () => {
    expect((await request(server.getUrl('exec', echo), SPDY, 'PUT')).status).toBe(405);
  });
});

describe('bad upgrades', () => {
  it('answers 400 to a plain request without upgrade', async () => {
    const res = await request(server.getUrl('exec', echo), {}, 'GET');
    expect(res.status).toBe(400);
    expect(res.rest.toString()).toContain('missing upgrade headers');
  });

  it('answers 400 to an unknown upgrade protocol and closes the connection', async () => {
    const res = await httpUpgrade(server.getUrl('exec', echo), { Connection: 'Upgrade', Upgrade: 'h2c' });
    expect(res.status).toBe(400);
    res.socket.resume();
    await new Promise((r) => res.socket.once('close', r));
  });

  it('answers 400 to bytes that are not HTTP and closes the connection', async () => {
    const addr = new URL(server.baseUrl);
    const sock = connect({ host: addr.hostname, port: Number(addr.port) });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.write(Buffer.from([0x80, 0x03, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]));
    await new Promise((r) => sock.once('close', r));
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers 403 listing its versions when no SPDY protocol matches', async () => {
    const res = await request(server.getUrl('exec', echo), { ...SPDY, 'X-Stream-Protocol-Version': 'v9.channel.k8s.io' });
    expect(res.status).toBe(403);
    expect(res.headers['x-accepted-stream-protocol-versions']).toEqual([
      'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io',
    ]);
  });

  it('answers 400 to a WebSocket upgrade missing its key', async () => {
    const res = await request(server.getUrl('exec', echo), { Connection: 'Upgrade', Upgrade: 'websocket' }, 'GET');
    expect(res.status).toBe(400);
  });
});

describe('SPDY connection behaviour', () => {
  it('echoes client PINGs', async () => {
    const s = { ...echo, cmd: ['sleep', '0.3'] };
    const client = await SpdyTestClient.connect(server.getUrl('exec', s), { protocols: ['v4.channel.k8s.io'] });
    client.send({ type: 'ping', id: 7 });
    expect(await client.waitFor((f) => f.type === 'ping')).toEqual({ type: 'ping', id: 7 });
    client.destroy();
  });

  it('answers a malformed frame with GOAWAY PROTOCOL_ERROR and closes', async () => {
    const client = await SpdyTestClient.connect(server.getUrl('exec', echo), { protocols: ['v4.channel.k8s.io'] });
    // A SYN_STREAM whose header block is not a zlib stream.
    client.sendRaw(Buffer.from('8003000100000010' + '00000001' + '00000000' + '0000' + 'deadbeefdead', 'hex'));
    expect(await client.waitFor((f) => f.type === 'goaway')).toMatchObject({ status: 1 });
    await client.closed;
  });

  it('refuses even-numbered (server-side) stream ids', async () => {
    const client = await SpdyTestClient.connect(server.getUrl('exec', echo), { protocols: ['v4.channel.k8s.io'] });
    client.send({ type: 'syn_stream', streamId: 2, associatedToStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: 'error' } });
    expect(await client.waitFor((f) => f.type === 'rst_stream')).toEqual({ type: 'rst_stream', streamId: 2, status: 1 });
    client.destroy();
  });
});

describe('lifecycle', () => {
  it('stop() tears down running sessions and aborts their backends', async () => {
    const local = new StreamingServer({ backend, port: 0 });
    await local.start();
    const s = { ...echo, cmd: ['sleep', '1000'] };
    const client = await SpdyTestClient.connect(local.getUrl('exec', s), { protocols: ['v4.channel.k8s.io'] });
    await Promise.all([client.openStream({ streamtype: 'error' }).replied, client.openStream({ streamtype: 'stdout' }).replied]);
    const record = backend.sessions.at(-1)!;
    expect(local.activeSessions).toBe(1);
    await local.stop();
    await record.done;
    expect(record.aborted).toBe(true);
    await client.closed;
  });

  it('serves over TLS when given a certificate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crius-streaming-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      ], { stdio: 'ignore' });
      const tls = new StreamingServer({
        backend, port: 0,
        tls: { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
      });
      await tls.start();
      try {
        const url = tls.getUrl('exec', echo);
        expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/exec\//);
        const client = await SpdyTestClient.connect(url, { protocols: ['v4.channel.k8s.io'] });
        const error = client.openStream({ streamtype: 'error' });
        const stdout = client.openStream({ streamtype: 'stdout' });
        expect((await stdout.ended).toString()).toBe('hi\n');
        expect((await error.ended).toString()).toBe('{"metadata":{},"status":"Success"}');
      } finally {
        await tls.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
