import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { byFilesystem, dirUsage, mountPointOf } from './usage.js';
import { cleanupDir, tempDir } from './test-support/tars.js';

let tmp: string;
beforeEach(() => (tmp = tempDir('usage')));
afterEach(() => cleanupDir(tmp));

describe('dirUsage', () => {
  it('counts bytes and inodes, hardlinks once, and never follows symlinks', async () => {
    const d = join(tmp, 'd');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'sub/f'), Buffer.alloc(64 << 10, 1));
    linkSync(join(d, 'sub/f'), join(d, 'hard'));
    const big = join(tmp, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'x'), Buffer.alloc(4 << 20, 1));
    symlinkSync(big, join(d, 'link'));
    const u = await dirUsage(d);
    expect(u.inodes).toBe(4); // d, sub, f(=hard), link
    expect(u.bytes).toBeGreaterThanOrEqual(64 << 10);
    expect(u.bytes).toBeLessThan(1 << 20); // neither the hardlink twice nor the symlinked 4 MiB
    expect(u.truncated).toBe(false);
  });

  it('stops at maxEntries and says so; a missing dir is empty', async () => {
    const d = join(tmp, 'many');
    mkdirSync(d);
    for (let i = 0; i < 50; i++) writeFileSync(join(d, `f${i}`), '');
    const u = await dirUsage(d, 10);
    expect(u.truncated).toBe(true);
    expect(u.inodes).toBeLessThanOrEqual(10);
    expect(await dirUsage(join(tmp, 'nope'))).toEqual({ bytes: 0, inodes: 0, truncated: false });
  });
});

describe('mountPointOf', () => {
  const m = (mountPoint: string) => ({ mountPoint, fsType: 'x', source: 'x', options: '', superOptions: '' });
  it('picks the longest mount point containing the path, not a name prefix', async () => {
    const mounts = [m('/'), m(tmp), m(`${tmp}-other`), m(join(tmp, 'a'))];
    mkdirSync(join(tmp, 'a', 'b'), { recursive: true });
    mkdirSync(join(tmp, 'ab'));
    expect(await mountPointOf(join(tmp, 'a', 'b'), mounts)).toBe(join(tmp, 'a'));
    expect(await mountPointOf(join(tmp, 'ab'), mounts)).toBe(tmp);
    expect(await mountPointOf(tmp, [m('/')])).toBe('/');
    expect(await mountPointOf(join(tmp, 'a', 'not', 'yet'), mounts)).toBe(join(tmp, 'a')); // would be made there
  });
});

describe('byFilesystem', () => {
  it('adds up trees on one filesystem and keeps other filesystems apart, in first-seen order', () => {
    const t = (mountpoint: string, usedBytes: number, inodesUsed: number, truncated = false) => ({ mountpoint, usedBytes, inodesUsed, truncated });
    expect(byFilesystem([t('/var', 10, 1), t('/', 5, 2), t('/var', 7, 3, true)])).toEqual([t('/var', 17, 4, true), t('/', 5, 2)]);
    expect(byFilesystem([])).toEqual([]);
  });
});
