// Many sessions at once, over both transports: each gets its own output and
// status, and the server counts them all down again.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StreamingServer } from './server.js';
import { LocalBackend } from './testing/local-backend.js';
import { SpdyTestClient } from './testing/spdy-client.js';
import type { ExecSpec } from './backend.js';

let server: StreamingServer;

beforeAll(async () => {
  server = new StreamingServer({ backend: new LocalBackend(), port: 0 });
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

const spec = (id: string, code: number): ExecSpec => ({
  containerId: `ctr-${id}`,
  cmd: ['sh', '-c', `echo "$1"; exit ${code}`, 'sh', id],
  tty: false,
  stdin: false,
  stdout: true,
  stderr: false,
});

async function overSpdy(id: string, code: number): Promise<[string, string]> {
  const client = await SpdyTestClient.connect(server.getUrl('exec', spec(id, code)), { protocols: ['v4.channel.k8s.io'] });
  const error = client.openStream({ streamtype: 'error' });
  const stdout = client.openStream({ streamtype: 'stdout' });
  const [out, status] = await Promise.all([stdout.ended, error.ended]);
  return [out.toString(), status.toString()];
}

async function overWs(id: string, code: number): Promise<[string, string]> {
  const ws = new WebSocket(server.getUrl('exec', spec(id, code)).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
  const msgs: Buffer[] = [];
  ws.on('message', (m: Buffer) => msgs.push(Buffer.from(m)));
  await new Promise((r) => ws.once('close', r));
  const ch = (n: number) => Buffer.concat(msgs.filter((m) => m[0] === n).map((m) => m.subarray(1))).toString();
  return [ch(1), ch(3)];
}

it('runs 40 sessions concurrently, each with its own output and exit code', async () => {
  const runs = Array.from({ length: 40 }, (_, i) => {
    const id = `s${i}`;
    const code = i % 3;
    return (i % 2 === 0 ? overSpdy(id, code) : overWs(id, code)).then(([out, status]) => ({ id, code, out, status }));
  });
  for (const r of await Promise.all(runs)) {
    expect(r.out).toBe(`${r.id}\n`);
    const status = JSON.parse(r.status) as { status: string; details?: { causes: { message: string }[] } };
    if (r.code === 0) expect(status.status).toBe('Success');
    else expect(status.details?.causes[0]?.message).toBe(String(r.code));
  }
  for (let i = 0; i < 200 && server.activeSessions > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(server.activeSessions).toBe(0);
});
