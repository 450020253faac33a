import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@crius/common';
import { runCommand } from './command.js';
import { LinuxNetnsManager, parseMountInfo } from './netns.js';
import { makePrivateNet, type PrivateNet } from './testdata/env.js';

describe('parseMountInfo', () => {
  it('reads mount point and fstype, decoding octal escapes', () => {
    const text = [
      '22 27 0:21 / /proc rw,relatime - proc proc rw',
      '53 52 0:4 net:[4026532250] /run/my\\040ns/a rw shared:2 - nsfs nsfs rw',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/proc', fsType: 'proc' },
      { mountPoint: '/run/my ns/a', fsType: 'nsfs' },
    ]);
  });
});

describe('LinuxNetnsManager (real namespaces)', () => {
  let net: PrivateNet;
  let mgr: LinuxNetnsManager;
  beforeAll(async () => {
    net = await makePrivateNet('netns');
    mgr = new LinuxNetnsManager({ dir: net.netnsDir });
  });
  afterAll(async () => net?.cleanup());

  it('creates a pinned namespace with lo up, idempotently', async () => {
    const path = await mgr.create('pod-a');
    expect(path).toBe(join(net.netnsDir, 'pod-a'));
    expect(await mgr.exists('pod-a')).toBe(true);
    const ino = (await stat(path)).ino;
    const lo = await runCommand('nsenter', [`--net=${path}`, 'ip', '-o', 'link', 'show', 'lo']);
    expect(lo.stdout).toMatch(/LOOPBACK,UP/);
    // A different namespace than ours.
    expect(ino).not.toBe((await stat('/proc/self/ns/net')).ino);
    expect(await mgr.create('pod-a')).toBe(path);
    expect((await stat(path)).ino).toBe(ino);
  });

  it('lists pinned namespaces and leftovers, and removes both idempotently', async () => {
    await mgr.create('pod-b');
    await writeFile(join(net.netnsDir, 'stale'), '');
    expect(await mgr.list()).toEqual([
      { name: 'pod-a', path: join(net.netnsDir, 'pod-a'), pinned: true },
      { name: 'pod-b', path: join(net.netnsDir, 'pod-b'), pinned: true },
      { name: 'stale', path: join(net.netnsDir, 'stale'), pinned: false },
    ]);
    for (const n of ['pod-a', 'pod-b', 'stale']) {
      await mgr.remove(n);
      await mgr.remove(n);
      expect(await mgr.exists(n)).toBe(false);
    }
    expect(await mgr.list()).toEqual([]);
    const mounts = parseMountInfo(await (await import('node:fs/promises')).readFile('/proc/self/mountinfo', 'utf8'));
    expect(mounts.filter((m) => m.mountPoint.startsWith(`${net.netnsDir}/`))).toEqual([]);
  });

  it('rejects names that could escape the dir', async () => {
    await expect(mgr.create('../x')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(mgr.create('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
