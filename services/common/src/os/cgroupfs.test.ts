import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupHierarchies, cgroupVersion } from './cgroupfs.js';

let root: string;
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('cgroupfs', () => {
  it('reads a v1 mount as one hierarchy per directory', async () => {
    root = await mkdtemp(join(tmpdir(), 'crius-cgv1-'));
    for (const h of ['cpu,cpuacct', 'memory', 'systemd']) await mkdir(join(root, h));
    await writeFile(join(root, 'not-a-hierarchy'), '');
    expect(cgroupVersion(root)).toBe(1);
    expect((await cgroupHierarchies(root)).sort()).toEqual(['cpu,cpuacct', 'memory', 'systemd'].map((h) => join(root, h)));
  });

  it('reads a v2 mount as its one unified hierarchy', async () => {
    root = await mkdtemp(join(tmpdir(), 'crius-cgv2-'));
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    await mkdir(join(root, 'system.slice'));
    expect(cgroupVersion(root)).toBe(2);
    expect(await cgroupHierarchies(root)).toEqual([root]);
  });
});
