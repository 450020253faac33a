import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ResourceExhaustedError } from '@crius/common';
import { TokenStore, type StreamRequest } from './tokens.js';

const exec: StreamRequest = {
  kind: 'exec',
  spec: { containerId: 'c1', cmd: ['sh', '-c', 'true'], tty: false, stdin: false, stdout: true, stderr: true },
};

describe('TokenStore', () => {
  it('hands out 32 random bytes as base64url, different every time', () => {
    const store = new TokenStore();
    const a = store.insert(exec);
    const b = store.insert(exec);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url').length).toBe(32);
    expect(a).not.toBe(b);
  });

  it('returns the stored request once, then never again', () => {
    const store = new TokenStore();
    const token = store.insert(exec);
    expect(store.consume(token)).toEqual(exec);
    expect(store.consume(token)).toBeUndefined();
    expect(store.consume('no-such-token')).toBeUndefined();
  });

  it('keeps a copy: changing the caller object later does not change the request', () => {
    const store = new TokenStore();
    const spec = { ...exec.spec, cmd: ['ls'] } as Extract<StreamRequest, { kind: 'exec' }>['spec'];
    const token = store.insert({ kind: 'exec', spec });
    spec.cmd.push('-l');
    spec.containerId = 'other';
    expect(store.consume(token)).toEqual({ kind: 'exec', spec: { ...exec.spec, cmd: ['ls'] } });
  });

  it('expires unused tokens after the TTL', () => {
    let now = 1000;
    const store = new TokenStore({ ttlMs: 60_000, now: () => now });
    const fresh = store.insert(exec);
    const stale = store.insert(exec);
    now += 59_999;
    expect(store.consume(fresh)).toEqual(exec);
    now += 1;
    expect(store.consume(stale)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('refuses more pending tokens than the limit, and frees room as they expire', () => {
    let now = 0;
    const store = new TokenStore({ maxPending: 2, ttlMs: 10, now: () => now });
    store.insert(exec);
    store.insert(exec);
    expect(() => store.insert(exec)).toThrow(ResourceExhaustedError);
    now = 10;
    expect(() => store.insert(exec)).not.toThrow();
  });

  it('validates requests as the kubelet does', () => {
    const store = new TokenStore();
    const bad: StreamRequest[] = [
      { kind: 'exec', spec: { ...exec.spec, containerId: '' } },
      { kind: 'exec', spec: { ...exec.spec, cmd: [] } },
      { kind: 'exec', spec: { ...exec.spec, tty: true, stderr: true } },
      { kind: 'attach', spec: { containerId: 'c', tty: false, stdin: false, stdout: false, stderr: false } },
      { kind: 'portforward', spec: { podSandboxId: '', ports: [80] } },
      { kind: 'portforward', spec: { podSandboxId: 'p', ports: [0] } },
      { kind: 'portforward', spec: { podSandboxId: 'p', ports: [65536] } },
    ];
    for (const r of bad) expect(() => store.insert(r), JSON.stringify(r)).toThrow(InvalidArgumentError);
    expect(() => store.insert({ kind: 'exec', spec: { ...exec.spec, tty: true, stderr: false } })).not.toThrow();
    expect(() => store.insert({ kind: 'portforward', spec: { podSandboxId: 'p', ports: [] } })).not.toThrow();
  });
});
