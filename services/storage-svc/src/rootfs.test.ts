// Real overlay mounts (we are root): layer stacking, whiteouts, opaque dirs, read-only, a
// 60-layer image, removal (incl. busy), reconcile. Every mount under the temp dir is undone in afterEach.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerStore } from './layer-store.js';
import { commandOs } from './os.js';
import { RootfsManager } from './rootfs.js';
import { cleanupDir, layerBlob, mountsUnder, tempDir, type TEntry } from './test-support/tars.js';

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
let tmp: string;
let store: LayerStore;
let rootfs: RootfsManager;
let unmounts: string[];

beforeEach(async () => {
  tmp = tempDir('rootfs');
  store = new LayerStore({ root: join(tmp, 'root') });
  unmounts = [];
  const os = { ...commandOs, unmount: async (t: string) => { const r = await commandOs.unmount(t); unmounts.push(r); return r; } };
  rootfs = new RootfsManager(join(tmp, 'root'), store, os);
  await store.init();
  await rootfs.init();
});
afterEach(() => cleanupDir(tmp));

async function layer(entries: TEntry[]): Promise<string> {
  const { diffId, path } = await layerBlob(tmp, entries);
  await store.ensure(diffId, { mediaType: GZ, open: () => open(path, 'r') });
  return diffId;
}

const dir = (name: string): TEntry => ({ name, type: 'directory' });
async function baseAndTop(): Promise<[string, string]> {
  const base = await layer([
    { name: './', type: 'directory', mode: 0o750 }, dir('etc/'), { name: 'etc/passwd', body: 'root:x:0:0' }, { name: 'etc/hostname', body: 'lower' },
    dir('opt/'), dir('opt/a/'), { name: 'opt/a/old', body: 'old' }, { name: 'bin/tool', body: 'tool', mode: 0o755 },
  ]);
  const top = await layer([{ name: './', type: 'directory', mode: 0o750 }, { name: 'etc/.wh.hostname', body: '' }, { name: 'opt/a/.wh..wh..opq', body: '' }, { name: 'opt/a/new', body: 'new' }]);
  return [base, top];
}

function mounted(path: string): boolean {
  return mountsUnder(path).includes(path);
}

describe('RootfsManager (real overlay)', () => {
  it('stacks layers: lower files show, whiteouts hide, opaque dirs hide lower contents, writes go to upper', async () => {
    const [base, top] = await baseAndTop();
    const { rootfsPath, created } = await rootfs.create('c1', [base, top]);
    expect(created).toBe(true);
    expect(rootfsPath).toBe(join(rootfs.containersDir, 'c1/merged'));
    expect(mounted(rootfsPath)).toBe(true);
    expect(readFileSync(join(rootfsPath, 'etc/passwd'), 'utf8')).toBe('root:x:0:0');
    expect(existsSync(join(rootfsPath, 'etc/hostname'))).toBe(false);
    expect(readdirSync(join(rootfsPath, 'opt/a'))).toEqual(['new']);
    expect(lstatSync(rootfsPath).mode & 0o7777).toBe(0o750); // upper took the image root's mode
    writeFileSync(join(rootfsPath, 'etc/written'), 'w');
    expect(readFileSync(join(rootfs.containersDir, 'c1/upper/etc/written'), 'utf8')).toBe('w');
    expect(existsSync(join(store.diffPath(top), 'etc/written'))).toBe(false);
    // top layer is leftmost in lowerdir
    const info = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(` ${rootfsPath} `))!;
    expect(info).toContain(`lowerdir=${store.shortId(top)}:${store.shortId(base)}`);
  });

  it('is idempotent for the same id and refuses the same id with other layers', async () => {
    const [base, top] = await baseAndTop();
    const a = await rootfs.create('c1', [base, top]);
    const b = await rootfs.create('c1', [base, top]);
    expect(b).toEqual({ rootfsPath: a.rootfsPath, created: false });
    expect(mountsUnder(a.rootfsPath)).toHaveLength(1);
    await expect(rootfs.create('c1', [base])).rejects.toThrow(/rootfs c1 already exists with other layers/);
    await expect(rootfs.create('c1', [base, top], { readOnly: true })).rejects.toThrow(/already exists/);
  });

  it('read-only rootfs refuses writes (also with a single layer)', async () => {
    const [base, top] = await baseAndTop();
    for (const [id, layers] of [['ro2', [base, top]], ['ro1', [base]]] as const) {
      const { rootfsPath } = await rootfs.create(id, [...layers], { readOnly: true });
      expect(readFileSync(join(rootfsPath, 'etc/passwd'), 'utf8')).toBe('root:x:0:0');
      expect(() => writeFileSync(join(rootfsPath, 'x'), 'x')).toThrow(/EROFS/);
      expect(existsSync(join(rootfs.containersDir, id, 'upper'))).toBe(false);
      expect((await rootfs.info(id))?.upperDir).toBeUndefined();
    }
  });

  it('mounts a 60-layer image, top layer winning', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await layer([{ name: `f${i}`, body: String(i) }, { name: 'common', body: String(i) }]));
    const { rootfsPath } = await rootfs.create(`deep-${'x'.repeat(100)}`, ids);
    expect(readFileSync(join(rootfsPath, 'common'), 'utf8')).toBe('59');
    expect(readdirSync(rootfsPath).filter((n) => n.startsWith('f'))).toHaveLength(60);
    expect(readFileSync(join(rootfsPath, 'f0'), 'utf8')).toBe('0');
  });

  it('refuses unknown layers without leaving a container dir', async () => {
    await expect(rootfs.create('c2', [`sha256:${'a'.repeat(64)}`])).rejects.toThrow(/rootfs c2: layer sha256:a+ is not unpacked/);
    expect(readdirSync(rootfs.containersDir)).toEqual([]);
  });

  it('remove unmounts and deletes; a busy mount is detached lazily', async () => {
    const [base, top] = await baseAndTop();
    const { rootfsPath } = await rootfs.create('c1', [base, top]);
    expect(await rootfs.remove('c1')).toBe(true);
    expect(mounted(rootfsPath)).toBe(false);
    expect(existsSync(join(rootfs.containersDir, 'c1'))).toBe(false);
    expect(await rootfs.remove('c1')).toBe(false);

    const busy = await rootfs.create('c3', [base, top]);
    const fh = await open(join(busy.rootfsPath, 'etc/passwd'), 'r');
    try {
      expect(await rootfs.remove('c3')).toBe(true);
      expect(unmounts).toEqual(['unmounted', 'lazy']);
      expect(mounted(busy.rootfsPath)).toBe(false);
      expect(existsSync(join(rootfs.containersDir, 'c3'))).toBe(false);
      expect((await fh.readFile('utf8'))).toBe('root:x:0:0'); // the detached mount lives until closed
    } finally {
      await fh.close();
    }
    expect(readdirSync(rootfs.containersDir)).toEqual([]);
  });

  it('reconcile remounts vanished mounts, reports stale records, drops partial dirs', async () => {
    const [base, top] = await baseAndTop();
    const a = await rootfs.create('a', [base, top]);
    writeFileSync(join(a.rootfsPath, 'kept'), 'k');
    await rootfs.create('b', [base]);
    execFileSync('umount', [a.rootfsPath]); // as after a reboot
    execFileSync('mkdir', ['-p', join(rootfs.containersDir, 'partial/merged')]);
    const report = await rootfs.reconcile(new Set(['a']));
    expect(report).toEqual({ remounted: ['a'], stale: ['b'], failed: [], removedPartial: ['partial'] });
    expect(mounted(a.rootfsPath)).toBe(true);
    expect(readFileSync(join(a.rootfsPath, 'kept'), 'utf8')).toBe('k');
    expect(existsSync(join(rootfs.containersDir, 'partial'))).toBe(false);
  });

  it('reconcile reports a rootfs whose layer vanished instead of failing start', async () => {
    const [base, top] = await baseAndTop();
    const a = await rootfs.create('a', [base, top]);
    execFileSync('umount', [a.rootfsPath]);
    await store.remove(top);
    const report = await rootfs.reconcile();
    expect(report.failed).toEqual([{ id: 'a', error: expect.stringMatching(/layer sha256:[0-9a-f]+ is not unpacked/) }]);
  });
});
