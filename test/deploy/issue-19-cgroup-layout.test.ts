// Issue 19: setup must not reconfigure the host's cgroups behind the user's
// back. On a hybrid node with controllers left on the v2 hierarchy (which
// crun refuses), scripts/cgroup-layout.sh explains and changes nothing unless
// CRIUS_MOVE_CGROUP_CONTROLLERS=1 asks for it. Run against a fake cgroup root
// so the test never touches the real one.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function fakeRoot(v2Controllers: string): Promise<string> {
  root = await mkdtemp(path.join(os.tmpdir(), 'crius-cgroot-'));
  await mkdir(path.join(root, 'unified'));
  await mkdir(path.join(root, 'memory'));
  await writeFile(path.join(root, 'unified', 'cgroup.controllers'), v2Controllers);
  return root;
}

function layout(cgroupRoot: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, CRIUS_CGROUP_ROOT: cgroupRoot };
  delete env.CRIUS_MOVE_CGROUP_CONTROLLERS;
  return spawnSync('bash', ['scripts/cgroup-layout.sh'], { env, encoding: 'utf8' });
}

describe('issue 19: setup and the cgroup layout', () => {
  it('explains a hybrid layout crun refuses and leaves the host as it is', async () => {
    const r = await fakeRoot('hugetlb misc\n');
    const res = layout(r);
    expect(res.status).toBe(0);
    expect(res.stderr).toContain('controllers on the v2 hierarchy (hugetlb misc');
    expect(res.stderr).toContain('CRIUS_MOVE_CGROUP_CONTROLLERS=1');
    expect((await readdir(r)).sort()).toEqual(['memory', 'unified']);
  });

  it('says nothing where crun is content (no controller on v2)', async () => {
    const res = layout(await fakeRoot(''));
    expect(res.status).toBe(0);
    expect(res.stderr).toBe('');
  });
});
