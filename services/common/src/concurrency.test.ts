import { describe, expect, it } from 'vitest';
import { Semaphore, mapLimit } from './concurrency.js';

const tick = () => new Promise((r) => setTimeout(r, 2));

describe('Semaphore', () => {
  it('never lets more than its limit run, and runs every task', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        sem.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await tick();
          running--;
          done.push(i);
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('frees the slot of a task that throws', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(sem.run(async () => 'next')).resolves.toBe('next');
  });
});

describe('mapLimit', () => {
  it('reports the first failure after every item settled', async () => {
    const seen: number[] = [];
    await expect(
      mapLimit([1, 2, 3], 3, async (n) => {
        await tick();
        seen.push(n);
        if (n === 2) throw new Error('two');
      }),
    ).rejects.toThrow('two');
    expect(seen.sort()).toEqual([1, 2, 3]);
  });
});
