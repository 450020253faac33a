// The streaming server takes any Host header, or none (issue 15): Go's
// streaming clients (kubelet, kubectl through the API server) may send odd
// ones, and the URL's token is what identifies a session, not the Host.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecSpec } from './backend.js';
import { StreamingServer } from './server.js';
import { LocalBackend } from './testing/local-backend.js';
import { SpdyTestClient, httpUpgrade } from './testing/spdy-client.js';

const echo: ExecSpec = { containerId: 'c', cmd: ['echo', 'hi'], tty: false, stdin: false, stdout: true, stderr: false };
const HOSTS: [string, string | null][] = [
  ['a unix socket path', '/run/crius/crius.sock'],
  ['an empty value', ''],
  ['a value with spaces', 'not a host'],
  ['no Host header at all', null],
];

let server: StreamingServer;

beforeAll(async () => {
  server = new StreamingServer({ backend: new LocalBackend(), port: 0 });
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

describe('Host header', () => {
  it.each(HOSTS)('runs an exec over SPDY with %s', async (_what, host) => {
    const client = await SpdyTestClient.connect(server.getUrl('exec', echo), { protocols: ['v4.channel.k8s.io'], host });
    const error = client.openStream({ streamtype: 'error' });
    const stdout = client.openStream({ streamtype: 'stdout' });
    expect((await stdout.ended).toString()).toBe('hi\n');
    expect((await error.ended).toString()).toBe('{"metadata":{},"status":"Success"}');
  });

  it.each(HOSTS)('runs an exec over WebSocket with %s', async (_what, host) => {
    const headers = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': 'v5.channel.k8s.io',
    };
    const res = await httpUpgrade(server.getUrl('exec', echo), headers, 'GET', host);
    try {
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-protocol']).toEqual(['v5.channel.k8s.io']);
      // Server frames are unmasked: the first binary message is channel 1 (stdout) + "hi\n".
      const first = await firstWsMessage(res.socket, res.rest);
      expect([...first]).toEqual([1, ...Buffer.from('hi\n')]);
    } finally {
      res.socket.destroy();
    }
  });

  it('answers a plain request without Host itself (not with a bare 400 from Node)', async () => {
    const res = await httpUpgrade(server.getUrl('exec', echo), {}, 'GET', null);
    res.socket.resume();
    expect(res.status).toBe(400);
    expect(res.rest.toString()).toContain('unable to upgrade: missing upgrade headers');
    res.socket.destroy();
  });
});

/** The payload of the first non-empty WebSocket data message the server sends (bounded by the connection). */
function firstWsMessage(socket: import('node:net').Socket, head: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = head;
    const parse = () => {
      while (buf.length >= 2) {
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if ((opcode === 1 || opcode === 2) && payload.length > 1) return resolve(Buffer.from(payload));
        if (opcode === 8) return reject(new Error(`server closed the WebSocket first: ${payload.toString()}`));
      }
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parse();
    });
    socket.once('close', () => reject(new Error('connection closed before a message')));
    socket.resume();
    parse();
  });
}
