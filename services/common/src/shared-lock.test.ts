import { describe, expect, it } from 'vitest';
import { SharedLock } from './shared-lock.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('SharedLock', () => {
  it('runs shared holders together and an exclusive one alone, in arrival order', async () => {
    const lock = new SharedLock();
    const log: string[] = [];
    const shared = (name: string) =>
      lock.withShared(async () => {
        log.push(`+${name}`);
        await tick();
        log.push(`-${name}`);
      });
    const exclusive = (name: string) =>
      lock.withExclusive(async () => {
        log.push(`+${name}`);
        await tick();
        log.push(`-${name}`);
      });
    await Promise.all([shared('a'), shared('b'), exclusive('X'), shared('c')]);
    expect(log.slice(0, 2).sort()).toEqual(['+a', '+b']);
    expect(log.indexOf('+X')).toBeGreaterThan(Math.max(log.indexOf('-a'), log.indexOf('-b')));
    // c arrived after X: it waits for X even though only shared holders ran before.
    expect(log.indexOf('+c')).toBeGreaterThan(log.indexOf('-X'));
  });

  it('releases on failure', async () => {
    const lock = new SharedLock();
    await expect(lock.withExclusive(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.withShared(async () => 'ok')).resolves.toBe('ok');
  });
});
