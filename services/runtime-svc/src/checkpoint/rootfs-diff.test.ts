// Real overlayfs (root): changes made through the merged view come out of
// the upper dir as rootfs-diff.tar + deleted.files, and applying them to a
// fresh copy of the lower layer gives the merged view back.
import { execFile } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { applyRootfsDiff, parseGetfattr, writeRootfsDiff } from './rootfs-diff.js';

const run = promisify(execFile);
let dir: string;
let mounted = '';

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crius-diff-'));
});
afterEach(async () => {
  if (mounted) await run('umount', [mounted]).catch(() => undefined);
  mounted = '';
  await rm(dir, { recursive: true, force: true });
});

/** The image: what both the container and the restore start from. */
async function makeLower(root: string): Promise<void> {
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc', 'keep'), 'keep\n');
  await writeFile(path.join(root, 'etc', 'change'), 'old\n');
  await writeFile(path.join(root, 'etc', 'gone'), 'gone\n');
  await mkdir(path.join(root, 'cache', 'sub'), { recursive: true });
  await writeFile(path.join(root, 'cache', 'sub', 'old1'), '1');
  await writeFile(path.join(root, 'cache', 'old2'), '2');
}

async function overlay(): Promise<{ merged: string; upper: string }> {
  const p = (n: string) => path.join(dir, n);
  for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(p(d));
  await makeLower(p('lower'));
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${p('lower')},upperdir=${p('upper')},workdir=${p('work')}`, p('merged')]);
  mounted = p('merged');
  return { merged: p('merged'), upper: p('upper') };
}

/** path → kind and content, for comparing two trees. */
async function tree(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = path.join(root, r);
    const st = await lstat(abs);
    if (st.isDirectory()) {
      out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
      Object.assign(out, await tree(root, r));
    } else if (st.isSymbolicLink()) out[r] = `link ${await readlink(abs)}`;
    else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${await readFile(abs, 'utf8')}`;
  }
  return out;
}

describe('rootfs diff', () => {
  it('carries additions, changes, deletions, links and a replaced directory to a fresh rootfs', async () => {
    const { merged, upper } = await overlay();
    await writeFile(path.join(merged, 'etc', 'change'), 'new\n');
    await rm(path.join(merged, 'etc', 'gone'));
    await mkdir(path.join(merged, 'data'), { mode: 0o750 });
    await writeFile(path.join(merged, 'data', 'counter'), '42\n', { mode: 0o640 });
    await link(path.join(merged, 'data', 'counter'), path.join(merged, 'data', 'counter.hard'));
    await symlink('../etc/keep', path.join(merged, 'data', 'keep-link'));
    // rm -rf + mkdir of an image directory: overlay makes it opaque.
    await rm(path.join(merged, 'cache'), { recursive: true });
    await mkdir(path.join(merged, 'cache'));
    await writeFile(path.join(merged, 'cache', 'fresh'), 'f');
    // A mount point the runtime makes: left out.
    await writeFile(path.join(merged, 'etc', 'hosts'), '');

    const out = path.join(dir, 'out');
    await mkdir(out);
    const summary = await writeRootfsDiff(upper, out, new Set(['/etc/hosts']));
    expect(summary.deleted.sort()).toEqual(['/cache', '/etc/gone']);
    expect(JSON.parse(await readFile(path.join(out, 'deleted.files'), 'utf8')).sort()).toEqual(['/cache', '/etc/gone']);

    const fresh = path.join(dir, 'fresh');
    await mkdir(fresh);
    await makeLower(fresh);
    await applyRootfsDiff(out, fresh, 'test');
    const want = await tree(merged);
    delete want['etc/hosts'];
    expect(await tree(fresh)).toEqual(want);
    const [a, b] = [await lstat(path.join(fresh, 'data', 'counter')), await lstat(path.join(fresh, 'data', 'counter.hard'))];
    expect(a.ino).toBe(b.ino);
  });

  it('writes nothing for an unchanged rootfs', async () => {
    const { upper } = await overlay();
    const out = path.join(dir, 'out');
    await mkdir(out);
    expect(await writeRootfsDiff(upper, out, new Set())).toEqual({ changed: 0, deleted: [] });
    expect(await readdir(out)).toEqual([]);
  });

  it('never writes through a symlink in the target rootfs: a link in the way is replaced', async () => {
    const { merged, upper } = await overlay();
    await writeFile(path.join(merged, 'etc', 'change'), 'evil\n');
    const out = path.join(dir, 'out');
    await mkdir(out);
    await writeRootfsDiff(upper, out, new Set());
    // The restore target's /etc points outside the rootfs.
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'change'), 'host file\n');
    const fresh = path.join(dir, 'fresh');
    await mkdir(fresh);
    await symlink(outside, path.join(fresh, 'etc'));
    await applyRootfsDiff(out, fresh, 'restore R');
    expect(await readFile(path.join(outside, 'change'), 'utf8')).toBe('host file\n');
    expect((await lstat(path.join(fresh, 'etc'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(fresh, 'etc', 'change'), 'utf8')).toBe('evil\n');
  });

  it('refuses a deletion below a symlink instead of following it', async () => {
    const out = path.join(dir, 'out');
    await mkdir(out);
    await writeFile(path.join(out, 'deleted.files'), JSON.stringify(['/etc/change']));
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'change'), 'host file\n');
    const fresh = path.join(dir, 'fresh');
    await mkdir(fresh);
    await symlink(outside, path.join(fresh, 'etc'));
    const err = await applyRootfsDiff(out, fresh, 'restore R').catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/restore R: \/etc is not a directory in the rootfs/);
    expect(await readFile(path.join(outside, 'change'), 'utf8')).toBe('host file\n');
  });

  it('refuses deleted.files entries that leave the rootfs', async () => {
    const out = path.join(dir, 'out');
    await mkdir(out);
    await writeFile(path.join(out, 'deleted.files'), JSON.stringify(['/../../etc/passwd']));
    const err = await applyRootfsDiff(out, path.join(dir, 'root'), 'restore R').catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/leaves the archive/);
  });

  it('reads getfattr output with escaped names', () => {
    const text = '# file: /u/a\\040b\ntrusted.overlay.opaque="y"\n\n# file: /u/c\ntrusted.overlay.origin=0x00\n';
    expect([...parseGetfattr(text)]).toEqual(['/u/a b']);
  });
});
