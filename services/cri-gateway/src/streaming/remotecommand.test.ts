import { describe, expect, it } from 'vitest';
import type { TerminalSize } from './backend.js';
import { expectedStreamTypes } from './remotecommand-spdy.js';
import {
  ResizeQueue,
  exitCodeStatus,
  internalErrorStatus,
  protocolVersion,
  statusPayload,
  successStatus,
} from './remotecommand.js';

async function drain(q: ResizeQueue): Promise<TerminalSize[]> {
  const out: TerminalSize[] = [];
  for await (const s of q) out.push(s);
  return out;
}

describe('ResizeQueue', () => {
  it('parses concatenated JSON objects split anywhere across chunks', async () => {
    const q = new ResizeQueue();
    const seen: TerminalSize[] = [];
    const consumer = (async () => {
      for await (const s of q) seen.push(s);
    })();
    q.feed('{"Width":80,');
    q.feed('"Height":24}\n');
    await new Promise((r) => setImmediate(r));
    q.feed(' {"Height":50,"Width":120}');
    await new Promise((r) => setImmediate(r));
    q.end();
    await consumer;
    expect(seen).toEqual([{ width: 80, height: 24 }, { width: 120, height: 50 }]);
  });

  it('keeps only the newest size for a consumer that lags', async () => {
    const q = new ResizeQueue();
    for (let w = 1; w <= 1000; w++) q.push({ width: w, height: 1 });
    q.end();
    expect(await drain(q)).toEqual([{ width: 1000, height: 1 }]);
  });

  it('stops at malformed input, as the kubelet stops decoding', async () => {
    const q = new ResizeQueue();
    q.feed('{"Width":80,"Height":24}garbage{"Width":1,"Height":1}');
    expect(await drain(q)).toEqual([{ width: 80, height: 24 }]);
    const big = new ResizeQueue();
    big.feed(`{"Width":${'1'.repeat(5000)}`);
    expect(await drain(big)).toEqual([]);
    const negative = new ResizeQueue();
    negative.feed('{"Width":-1,"Height":5}');
    expect(await drain(negative)).toEqual([]);
  });
});

describe('status on the error stream', () => {
  it('is Status JSON from v4 on', () => {
    expect(statusPayload(4, successStatus())!.toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(JSON.parse(statusPayload(5, exitCodeStatus(42))!.toString())).toMatchObject({
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '42' }] },
    });
  });

  it('is the failure message as text before v4, and nothing on success', () => {
    expect(statusPayload(3, successStatus())).toBeUndefined();
    expect(statusPayload(1, internalErrorStatus('boom'))!.toString()).toBe('Internal error occurred: boom');
  });

  it('maps protocol names to versions (no negotiation = v1)', () => {
    expect(protocolVersion('v5.channel.k8s.io')).toBe(5);
    expect(protocolVersion('v2.channel.k8s.io')).toBe(2);
    expect(protocolVersion('channel.k8s.io')).toBe(1);
    expect(protocolVersion('')).toBe(1);
  });
});

describe('expected SPDY streams', () => {
  const base = { containerId: 'c', cmd: ['sh'], tty: false, stdin: false, stdout: true, stderr: true };
  it('always includes error, then what the request asked for', () => {
    expect(expectedStreamTypes(base, 4)).toEqual(['error', 'stdout', 'stderr']);
    expect(expectedStreamTypes({ ...base, stdin: true, stderr: false, tty: true }, 4)).toEqual(['error', 'stdin', 'stdout', 'resize']);
  });
  it('has no resize stream before v3', () => {
    expect(expectedStreamTypes({ ...base, tty: true, stderr: false }, 2)).toEqual(['error', 'stdout']);
  });
});
