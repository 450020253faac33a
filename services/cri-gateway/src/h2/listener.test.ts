// listenUnix with a real grpc-js server: which connections go to node:http2
// directly and which through the filter, and that both are served.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Server, credentials, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { F, RawH2Client, T, field, frame, grpcRequestFields, literal, literalIndexedName } from '../../../../test/harness/raw-h2.js';
import { listenUnix, type CriListener } from './listener.js';

const ident = (b: Buffer) => b;
let dir: string;
let sock: string;
let server: Server;
let listener: CriListener;
const paths: string[] = [];
const malformed: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crius-h2-'));
  sock = path.join(dir, 'crius.sock');
  server = new Server();
  server.register('/t.S/Echo', (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])), ident, ident, 'unary');
  server.register(
    '/t.S/Count',
    (call: ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < call.request[0]!; i++) call.write(Buffer.from([i]));
      call.end();
    },
    ident,
    ident,
    'serverStream',
  );
  listener = await listenUnix(server, sock, { onConnection: (p) => paths.push(p), onMalformed: (e) => malformed.push(e.message) });
});

afterAll(async () => {
  await listener?.close();
  server?.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

const clients: (RawH2Client | Client)[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function raw(): Promise<RawH2Client> {
  const c = await RawH2Client.connect(sock);
  clients.push(c);
  return c;
}

function echo(c: RawH2Client, authority: Buffer | undefined, body: string): number {
  const id = c.stream();
  c.call(id, grpcRequestFields('/t.S/Echo', authority), Buffer.from(body));
  return id;
}

async function expectEcho(c: RawH2Client, id: number, body: string): Promise<void> {
  const r = await c.response(id);
  expect(field(r.trailers, 'grpc-status')).toBe('0');
  expect(r.messages.map((m) => m.toString())).toEqual([`echo:${body}`]);
}

/** Waits (bounded) until `n` connections have been handed over. */
async function handedOver(n: number): Promise<string[]> {
  for (let i = 0; i < 200 && paths.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return paths.slice(0, n);
}

describe('listenUnix', () => {
  it('hands a connection whose first request has a valid authority to node:http2 directly', async () => {
    paths.length = 0;
    const c = await raw();
    const id = echo(c, literalIndexedName(1, 'localhost', { indexing: 'incremental' }), 'a');
    await expectEcho(c, id, 'a');
    // Later calls reuse the dynamic table entry the first one made.
    const id2 = c.stream();
    // The only dynamic entry: :authority, index 62.
    c.call(id2, grpcRequestFields('/t.S/Echo', Buffer.from([0x80 | 62])), Buffer.from('b'));
    await expectEcho(c, id2, 'b');
    expect(await handedOver(1)).toEqual(['direct']);
  });

  it('serves a connection whose first request names the socket path through the filter', async () => {
    paths.length = 0;
    const c = await raw();
    const a = echo(c, literalIndexedName(1, sock, { indexing: 'incremental', huffman: true }), 'one');
    await expectEcho(c, a, 'one');
    const b = echo(c, literalIndexedName(1, sock), 'two');
    await expectEcho(c, b, 'two');
    expect(await handedOver(1)).toEqual(['filtered']);
  });

  it('serves requests sent together with the preface, before the gateway\'s SETTINGS arrived', async () => {
    paths.length = 0;
    const s = net.connect(sock);
    await new Promise((r) => s.once('connect', r));
    const block = grpcRequestFields('/t.S/Echo', literal(':authority', 'localhost'));
    const msg = Buffer.from([0, 0, 0, 0, 1, 0x7a]);
    // Preface, SETTINGS, a request, and only after reading the server's SETTINGS the ACK.
    s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.SETTINGS, 0, 0), frame(T.HEADERS, F.END_HEADERS, 1, block), frame(T.DATA, F.END_STREAM, 1, msg)]));
    let got = Buffer.alloc(0);
    let acked = false;
    const answered = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (!acked && got.length >= 9 && got[3] === T.SETTINGS) {
          acked = true;
          s.write(frame(T.SETTINGS, F.ACK, 0));
        }
        if (got.includes(Buffer.from('echo:z'))) resolve();
      });
      s.on('close', () => reject(new Error('closed before the answer')));
    });
    try {
      await answered;
    } finally {
      s.destroy();
    }
    expect(await handedOver(1)).toEqual(['direct']);
  });

  it('answers a PING sent before any request (the connection goes to the server at once)', async () => {
    const c = await raw();
    const pong = new Promise<Buffer>((resolve) => {
      (c as unknown as { socket: net.Socket }).socket.on('data', (d: Buffer) => {
        const at = d.indexOf(Buffer.from([0, 0, 8, T.PING, F.ACK]));
        if (at >= 0) resolve(d.subarray(at + 9, at + 17));
      });
    });
    c.write(frame(T.PING, 0, 0, Buffer.from('12345678')));
    expect((await pong).toString()).toBe('12345678');
    const id = echo(c, undefined, 'after-ping'); // no authority at all, filtered from here on
    await expectEcho(c, id, 'after-ping');
  });

  it('closes a connection whose bytes are not HTTP/2 and keeps serving others', async () => {
    malformed.length = 0;
    const s = net.connect(sock);
    s.on('error', () => undefined);
    s.resume(); // read the gateway's SETTINGS, so the close is seen
    const closed = new Promise((r) => s.once('close', r));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    expect(malformed.join()).toMatch(/preface/);
    const c = await raw();
    const id = echo(c, literal(':authority', '/x.sock'), 'still');
    await expectEcho(c, id, 'still');
  });

  it('serves grpc-js clients, with their default authority and with the socket path as authority', async () => {
    paths.length = 0;
    for (const options of [{}, { 'grpc.default_authority': sock }]) {
      const client = new Client(`unix://${sock}`, credentials.createInsecure(), options);
      clients.push(client);
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest('/t.S/Echo', ident, ident, Buffer.from('g'), (e, r) => (e ? reject(e) : resolve(r!))),
      );
      expect(reply.toString()).toBe('echo:g');
      const counted = await new Promise<number[]>((resolve, reject) => {
        const got: number[] = [];
        const call = client.makeServerStreamRequest('/t.S/Count', ident, ident, Buffer.from([50]));
        call.on('data', (b: Buffer) => got.push(b[0]!));
        call.on('end', () => resolve(got));
        call.on('error', reject);
      });
      expect(counted).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    expect(await handedOver(2)).toEqual(['direct', 'filtered']);
  });

  it('close() drops connections still waiting for their first request', async () => {
    const other = await listenUnix(server, path.join(dir, 'second.sock'));
    const s = net.connect(path.join(dir, 'second.sock'));
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.SETTINGS, 0, 0)]));
    await new Promise((r) => s.once('data', r)); // the gateway's SETTINGS
    const closed = new Promise((r) => s.once('close', r));
    await other.close();
    await closed;
  });
});
