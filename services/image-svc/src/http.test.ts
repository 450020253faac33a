import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ResourceExhaustedError, UnavailableError } from '@crius/common';
import { isNetworkError, readLimited, toUnavailable, withRetry } from './http.js';

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('withRetry', () => {
  it('retries transient failures up to the bound', async () => {
    let calls = 0;
    await expect(withRetry(fast, async () => { calls++; throw new UnavailableError('down'); })).rejects.toThrow('down');
    expect(calls).toBe(3);
  });
  it('returns once a retry succeeds and never retries hard errors', async () => {
    let calls = 0;
    expect(await withRetry(fast, async () => { if (++calls < 2) throw new UnavailableError('x'); return 'ok'; })).toBe('ok');
    calls = 0;
    await expect(withRetry(fast, async () => { calls++; throw new InvalidArgumentError('bad'); })).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });
});

describe('network errors', () => {
  it('maps socket errors (also nested) to UnavailableError naming the host', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const wrapped = new Error('fetch failed', { cause: new AggregateError([reset]) });
    expect(isNetworkError(wrapped)).toBe(true);
    const mapped = toUnavailable(reset, 'pull a', '127.0.0.1:5000');
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect((mapped as Error).message).toBe('pull a: registry 127.0.0.1:5000 unreachable (ECONNRESET)');
    const other = new Error('boom');
    expect(toUnavailable(other, 'x', 'h')).toBe(other);
  });
});

describe('readLimited', () => {
  async function* chunks(n: number) {
    for (let i = 0; i < n; i++) yield Buffer.alloc(100);
  }
  it('reads up to the limit and refuses more', async () => {
    expect((await readLimited(chunks(3), 300, 'x')).length).toBe(300);
    await expect(readLimited(chunks(4), 300, 'manifest m')).rejects.toThrow(new ResourceExhaustedError('manifest m: larger than the 300-byte limit'));
    await expect(readLimited(chunks(0), 300, 'm', '301')).rejects.toBeInstanceOf(ResourceExhaustedError);
  });
});
