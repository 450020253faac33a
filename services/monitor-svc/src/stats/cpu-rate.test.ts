import { describe, expect, it } from 'vitest';
import { CpuRateTracker } from './cpu-rate.js';

const S = 1_000_000_000n;

describe('CpuRateTracker', () => {
  it('has no rate on the first sample, then usage delta per elapsed second', () => {
    const t = new CpuRateTracker();
    expect(t.update('c1', 10n * S, 4n * S)).toBeUndefined();
    // 0.5 s of CPU in 2 s → a quarter core.
    expect(t.update('c1', 12n * S, 4n * S + S / 2n)).toBe(250_000_000n);
    // 3 s of CPU in 1.5 s → two cores.
    expect(t.update('c1', 13n * S + S / 2n, 7n * S + S / 2n)).toBe(2n * S);
  });

  it('keys samples per id', () => {
    const t = new CpuRateTracker();
    t.update('a', 0n, 0n);
    t.update('b', 0n, 0n);
    expect(t.update('a', S, S)).toBe(S);
    expect(t.update('b', S, S / 10n)).toBe(S / 10n);
  });

  it('returns the last rate for a sample not newer than the stored one', () => {
    const t = new CpuRateTracker();
    t.update('c', S, 0n);
    expect(t.update('c', S, 0n)).toBeUndefined();
    expect(t.update('c', 2n * S, S)).toBe(S);
    expect(t.update('c', 2n * S, S)).toBe(S);
    expect(t.get('c')).toEqual({ timestampNs: 2n * S, usageCoreNs: S, nanoCores: S });
  });

  it('starts over when the counter goes backwards', () => {
    const t = new CpuRateTracker();
    t.update('c', S, 10n * S);
    expect(t.update('c', 2n * S, S)).toBeUndefined();
    expect(t.update('c', 3n * S, 2n * S)).toBe(S);
  });

  it('forgets ids and retains only live ones', () => {
    const t = new CpuRateTracker();
    for (const id of ['a', 'b', 'c']) t.update(id, 0n, 0n);
    t.forget('a');
    t.retainOnly(['b']);
    expect(t.size).toBe(1);
    expect(t.update('c', S, S)).toBeUndefined();
  });
});
