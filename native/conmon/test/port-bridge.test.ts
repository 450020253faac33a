// build/port-bridge against real loopback servers, from its contract (top
// of src/tools/port-bridge.c): IPv4 then IPv6 localhost, status lines,
// half-close both ways, exit statuses, and --netns really entering another
// network namespace. The pod side is test/e2e/issue-15-port-forward.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, CONMON_DIR } from './basics.js';

const BRIDGE = join(BUILD_DIR, 'port-bridge');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(() => {
  spawnSync('make', ['-s', '-C', CONMON_DIR, 'build/port-bridge'], { stdio: 'inherit' });
});

interface Run {
  child: ChildProcess;
  out: Promise<Buffer>;
  status: () => string;
  done: Promise<{ code: number | null; stderr: string }>;
}

function bridge(args: string[], input?: Buffer): Run {
  const child = spawn(BRIDGE, ['--status-fd', '3', ...args], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let status = '';
  let stderr = '';
  (child.stdio[3] as Readable).on('data', (d) => (status += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  const out = new Promise<Buffer>((resolve) => child.stdout!.once('end', () => resolve(Buffer.concat(chunks))));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stderr })));
  child.stdin!.on('error', () => undefined);
  if (input) child.stdin!.end(input);
  return { child, out, status: () => status, done };
}

/** An echo server on one loopback address that answers only after the client half-closed: what it got, with its sha256 first. */
async function server(host: string, onConn?: (s: net.Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    if (onConn) return onConn(sock);
    const got: Buffer[] = [];
    sock.on('data', (d) => got.push(d));
    sock.on('end', () => {
      const all = Buffer.concat(got);
      sock.end(Buffer.concat([Buffer.from(sha(all) + '\n'), all]));
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, host, () => resolve()));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}

describe('port-bridge', () => {
  const payload = randomBytes(3 * 1024 * 1024 + 7);

  it.each([
    ['127.0.0.1', 'connected 127.0.0.1'],
    ['::1', 'connected ::1'],
  ])('reaches a server only on %s, relays both ways, and the half-closes meet', async (host, line) => {
    const srv = await server(host);
    try {
      const r = bridge([String(srv.port)], payload);
      const out = await r.out;
      // The server answers only after our stdin EOF reached it as a FIN; its FIN closed our stdout.
      expect(out.subarray(0, 65).toString()).toBe(sha(payload) + '\n');
      expect(sha(out.subarray(65))).toBe(sha(payload));
      expect(await r.done).toEqual({ code: 0, stderr: '' });
      expect(r.status()).toBe(`${line}\neof\n`);
    } finally {
      await srv.close();
    }
  });

  it('keeps relaying the other way after the server half-closed', async () => {
    let late!: (text: string) => void;
    const received = new Promise<string>((resolve) => (late = resolve));
    const srv = await server('127.0.0.1', (sock) => {
      sock.end('bye\n'); // server FIN first
      const got: Buffer[] = [];
      sock.on('data', (d) => got.push(d));
      sock.on('end', () => late(Buffer.concat(got).toString()));
    });
    try {
      const r = bridge([String(srv.port)]);
      expect((await r.out).toString()).toBe('bye\n');
      r.child.stdin!.end('late data');
      expect(await received).toBe('late data');
      expect((await r.done).code).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('exits 3 naming both families when nobody listens', async () => {
    const srv = await server('127.0.0.1');
    const port = srv.port;
    await srv.close(); // a port that was just free
    const r = bridge([String(port)], Buffer.alloc(0));
    const { code, stderr } = await r.done;
    expect(code).toBe(3);
    expect(stderr).toBe(`port-bridge: connect to localhost:${port}: 127.0.0.1: Connection refused; ::1: Connection refused\n`);
    expect(r.status()).toBe('');
  });

  it('reports a reset connection with exit 1 and no "eof"', async () => {
    const srv = await server('127.0.0.1', (sock) => {
      sock.write('partial');
      sock.once('data', () => sock.resetAndDestroy());
    });
    try {
      const r = bridge([String(srv.port)]);
      r.child.stdin!.write('go');
      const { code, stderr } = await r.done;
      expect(code).toBe(1);
      expect(stderr).toMatch(/read: Connection reset by peer/);
      expect(r.status()).toBe('connected 127.0.0.1\n');
    } finally {
      await srv.close();
    }
  });

  it('refuses bad arguments with exit 2', async () => {
    for (const args of [[], ['0'], ['70000'], ['--netns'], ['80', '81']]) {
      expect(spawnSync(BRIDGE, args).status).toBe(2);
    }
    expect(spawnSync(BRIDGE, ['--status-fd', '97', '80']).status).toBe(2); // not an open fd
  });

  describe('--netns', () => {
    let holder: ChildProcess;
    beforeAll(async () => {
      // A fresh network namespace (its loopback down), held by a process of ours.
      holder = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
      for (let i = 0; i < 100 && spawnSync('readlink', [`/proc/${holder.pid}/ns/net`]).stdout.toString() === spawnSync('readlink', ['/proc/self/ns/net']).stdout.toString(); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    afterAll(() => {
      holder?.kill('SIGKILL');
    });

    it('connects inside the given namespace, not in ours', async () => {
      const srv = await server('127.0.0.1');
      try {
        const r = bridge(['--netns', `/proc/${holder.pid}/ns/net`, String(srv.port)], Buffer.alloc(0));
        const { code, stderr } = await r.done;
        // Our listener is not there: that namespace has only a loopback that is down.
        expect(code).toBe(3);
        expect(stderr).toMatch(/127\.0\.0\.1: Network is unreachable; ::1: /);
      } finally {
        await srv.close();
      }
    });

    it('says so when the namespace cannot be entered', async () => {
      const r = bridge(['--netns', '/nonexistent/netns', '80']);
      const { code, stderr } = await r.done;
      expect(code).toBe(1);
      expect(stderr).toBe('port-bridge: enter network namespace /nonexistent/netns: No such file or directory\n');
    });
  });
});
