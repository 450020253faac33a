// BusPipe against a real nats-server with the real crius permissions: the
// gateway user on one end, runtime-svc's user on the other, and a third
// service that must not get at the session.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { ErrorCode, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, type TestNats } from '../../../../test/harness/nats.js';
import { BusPipe, newSessionId, pumpFromPipe, pumpToPipe, sessionAddress } from './pipe.js';
import { pipeSubject, type PipeAddress } from './subjects.js';
import { InvalidArgumentError } from '../errors.js';

let nats: TestNats;
let gw: NatsConnection;
let svc: NatsConnection;
let third: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  gw = await nats.connect('gateway');
  svc = await nats.connect('runtime');
  third = await nats.connect('network');
});
afterAll(async () => {
  await nats?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const execPipe = (): PipeAddress => ({ callee: 'runtime', caller: 'gateway', sid: newSessionId() });

async function pair(opts = {}, address = execPipe()) {
  const service = new BusPipe(svc, address, 'service', opts);
  const gateway = new BusPipe(gw, address, 'gateway', opts);
  await svc.flush();
  await gw.flush();
  return { sid: address.sid, service, gateway };
}

/**
 * The server's refusal of each subscription, as nats.js hands it to the subscription
 * (never a timeout): the server answers in order, so once a subscription refused to
 * everyone is refused, a subscription without a refusal by then was allowed.
 */
async function refusals(nc: NatsConnection, subjects: string[]): Promise<(Error | undefined)[]> {
  const got: (Error | undefined)[] = subjects.map(() => undefined);
  subjects.forEach((subject, i) => nc.subscribe(subject, { callback: (err) => err && (got[i] = err) }));
  await new Promise<void>((resolve) => nc.subscribe('crius.v1.sentinel', { callback: (err) => err && resolve() }));
  return got;
}

function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    r.on('data', (c: Buffer) => chunks.push(c));
    r.once('end', () => resolve(Buffer.concat(chunks)));
    r.once('error', reject);
  });
}

describe('BusPipe', () => {
  it('makes 128-bit hex session ids', () => {
    expect(newSessionId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newSessionId()).not.toBe(newSessionId());
  });

  it('keeps an exec session to its two ends: network-svc is refused reading or joining it', async () => {
    const { sid, service, gateway } = await pair();
    const addr: PipeAddress = { callee: 'runtime', caller: 'gateway', sid };
    const reads = await refusals(third, [pipeSubject(addr, 'up'), pipeSubject(addr, 'down'), 'crius.v1.pipe.>']);
    for (const err of reads) expect((err as { code?: string } | undefined)?.code).toBe(ErrorCode.PermissionsViolation);
    expect(reads[0]!.message).toBe(`'Permissions Violation for Subscription to "${pipeSubject(addr, 'up')}"'`);
    // Nor may it write into the session: the server refuses the publish and the ends see nothing.
    const refusedPublish = (async () => {
      for await (const st of third.status()) {
        const ctx = (st as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (st.data === ErrorCode.PermissionsViolation && ctx?.operation === 'publish') return ctx.subject;
      }
      return undefined;
    })();
    third.publish(pipeSubject(addr, 'up'), new Uint8Array([1]));
    third.publish('crius.v1.sentinel', new Uint8Array()); // refused to all: the first refusal if the pipe's was not
    expect(await refusedPublish).toBe(pipeSubject(addr, 'up'));
    const stdin = collect(service.readable('stdin'));
    gateway.writable('stdin').end('only from the gateway');
    expect((await stdin).toString()).toBe('only from the gateway');
    service.sendExit(0);
    await gateway.done;
  });

  it('keeps two sessions of the same pair apart by their ids', async () => {
    const a = await pair();
    const b = await pair();
    const inA = collect(a.service.readable('stdin'));
    const inB = collect(b.service.readable('stdin'));
    a.gateway.writable('stdin').end('to a');
    b.gateway.writable('stdin').end('to b');
    expect((await inA).toString()).toBe('to a');
    expect((await inB).toString()).toBe('to b');
    a.service.sendExit(0);
    b.service.sendExit(0);
  });

  it('opens sessions only for callers the grants table lets call the method, with 128-bit ids', () => {
    const sid = newSessionId();
    expect(sessionAddress('runtime', 'ExecSession', { sessionId: sid, caller: 'gateway' })).toEqual({ callee: 'runtime', caller: 'gateway', sid });
    expect(() => sessionAddress('runtime', 'ExecSession', { sessionId: sid, caller: 'monitor' })).toThrow(InvalidArgumentError);
    expect(() => sessionAddress('runtime', 'ExecSession', { sessionId: sid, caller: 'nobody' })).toThrow(/may not open ExecSession/);
    expect(() => sessionAddress('network', 'PortForwardSession', { sessionId: sid.slice(0, 16), caller: 'gateway' })).toThrow(/not 128 bits/);
    // The ids come from the CSPRNG: 1000 of them, all distinct, every nibble used.
    const ids = Array.from({ length: 1000 }, newSessionId);
    expect(new Set(ids).size).toBe(1000);
    expect(new Set(ids.join('')).size).toBe(16);
  });

  it('carries stdin up, stdout and stderr down, eofs in order, and the exit code', async () => {
    const { service, gateway } = await pair();
    const gotStdin = collect(service.readable('stdin'));
    const out = collect(gateway.readable('stdout'));
    const err = collect(gateway.readable('stderr'));
    gateway.writable('stdin').end('hello up');
    expect((await gotStdin).toString()).toBe('hello up');
    const o = service.writable('stdout');
    o.write('out-1 ');
    o.end('out-2');
    service.writable('stderr').end('err');
    await Promise.all([new Promise((r) => o.once('finish', r))]);
    await sleep(20);
    service.sendExit(3);
    expect(await gateway.done).toEqual({ kind: 'exit', exitCode: 3 });
    expect((await out).toString()).toBe('out-1 out-2');
    expect((await err).toString()).toBe('err');
  });

  it('copies 10 MiB intact and fast in both directions', async () => {
    const { service, gateway } = await pair();
    const data = randomBytes(10 * 1024 * 1024);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const started = Date.now();
    const up = collect(service.readable('port'));
    const down = collect(gateway.readable('port'));
    await Promise.all([pumpToPipe(gateway, 'port', Readable.from([data])), pumpToPipe(service, 'port', Readable.from([data]))]);
    expect(sha(await up)).toBe(sha(data));
    expect(sha(await down)).toBe(sha(data));
    expect(Date.now() - started).toBeLessThan(10_000);
    service.sendExit(0);
  });

  it('pauses a producer whose consumer reads nothing, with bounded buffers, and resumes it', async () => {
    const window = 128 * 1024;
    const { service, gateway } = await pair({ windowBytes: window });
    let produced = 0;
    let stop = false;
    const chunk = Buffer.alloc(16 * 1024, 7);
    const src = new Readable({
      read() {
        if (stop) return void this.push(null);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    void pumpToPipe(service, 'stdout', src);
    await sleep(500);
    const stalled = produced;
    // window in flight + the Writable's and Readable's own buffers, a few chunks of slack
    expect(stalled).toBeLessThan(window + 256 * 1024);
    expect(gateway.bufferedBytes).toBeLessThanOrEqual(window);
    await sleep(300);
    expect(produced).toBe(stalled); // really paused, not just slow
    let consumed = 0;
    gateway.readable('stdout').pipe(new Writable({ write: (c: Buffer, _e, cb) => ((consumed += c.length), cb()) }));
    await sleep(500);
    expect(produced).toBeGreaterThan(stalled + 4 * 1024 * 1024);
    expect(consumed).toBeGreaterThan(4 * 1024 * 1024);
    stop = true;
    gateway.close();
    expect(await service.done).toEqual({ kind: 'closed', byPeer: true });
  });

  it('tears down a session whose peer vanished', async () => {
    const lonely = new BusPipe(svc, execPipe(), 'service', { heartbeatMs: 50, peerTimeoutMs: 300 });
    const started = Date.now();
    const stdin = lonely.readable('stdin');
    const destroyed = new Promise((r) => stdin.once('close', r));
    stdin.resume();
    expect(await lonely.done).toEqual({ kind: 'timeout' });
    await destroyed;
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('keeps a quiet session alive with heartbeats', async () => {
    const { service, gateway } = await pair({ heartbeatMs: 50, peerTimeoutMs: 300 });
    await sleep(800);
    expect(service.isEnded).toBe(false);
    expect(gateway.isEnded).toBe(false);
    service.sendError(Object.assign(new Error('boom'), {}));
    const end = await gateway.done;
    expect(end.kind).toBe('error');
    expect(end.kind === 'error' && end.error.message).toMatch(/boom/);
  });

  it('delivers data still queued at exit, then ends the stream', async () => {
    const { service, gateway } = await pair();
    await pumpToPipe(service, 'stdout', Readable.from([Buffer.from('late bytes')]));
    service.sendExit(0);
    await gateway.done;
    const r = gateway.readable('stdout');
    expect((await collect(r)).toString()).toBe('late bytes');
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await pumpFromPipe(gateway, 'stdin', sink);
  });
});
