// StorageService end to end on real dirs and mounts: blob path confinement, id validation,
// layers → rootfs → usage → gc → remove, and reconcile at start.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageService, type LayerInput } from './storage-service.js';
import { cleanupDir, layerBlob, mountsUnder, tempDir, type TEntry } from './test-support/tars.js';

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
let tmp: string;
let content: string;
let svc: StorageService;

beforeEach(async () => {
  tmp = tempDir('svc');
  content = join(tmp, 'content');
  mkdirSync(content);
  svc = await StorageService.open({ root: join(tmp, 'storage'), contentRoot: content });
});
afterEach(() => cleanupDir(tmp));

async function input(entries: TEntry[], dir = content): Promise<LayerInput> {
  const { diffId, path } = await layerBlob(dir, entries);
  return { digest: `sha256:${'c'.repeat(64)}`, diffId, mediaType: GZ, path };
}

describe('StorageService', () => {
  it('unpacks layers, mounts a rootfs, reports usage, and removes it', async () => {
    const l1 = await input([{ name: 'bin/sh', body: 'x'.repeat(10_000) }]);
    const l2 = await input([{ name: 'etc/motd', body: 'hi' }]);
    const ensured = await svc.ensureLayers([l1, l2]);
    expect(ensured.map((e) => [e.diffId, e.created])).toEqual([[l1.diffId, true], [l2.diffId, true]]);
    expect((await svc.ensureLayers([l1]))[0]!.created).toBe(false);

    const { rootfsPath } = await svc.createRootfs('ctr-1', [l1.diffId, l2.diffId]);
    expect(readFileSync(join(rootfsPath, 'etc/motd'), 'utf8')).toBe('hi');
    const info = await svc.rootfsInfo('ctr-1');
    expect(info).toMatchObject({ id: 'ctr-1', rootfsPath, mounted: true, readOnly: false, diffIds: [l1.diffId, l2.diffId] });

    const fs = await svc.imageFsUsage();
    expect(fs.imageFilesystems).toHaveLength(1); // layers and content store share one filesystem
    const [img] = fs.imageFilesystems;
    expect(img!.mountpoint).toBe('/');
    expect(img!.usedBytes).toBeGreaterThanOrEqual(10_000);
    expect(img!.inodesUsed).toBeGreaterThanOrEqual(8); // layers dir, 2 layer dirs, diffs, files
    const before = await svc.containerUsage('ctr-1');
    writeFileSync(join(rootfsPath, 'big'), Buffer.alloc(1 << 20, 1));
    const after = await svc.containerUsage('ctr-1');
    expect(after.usedBytes - before.usedBytes).toBeGreaterThanOrEqual(1 << 20);
    expect(after.inodesUsed).toBe(before.inodesUsed + 1);

    expect(await svc.removeRootfs('ctr-1')).toEqual({ removed: true });
    expect(mountsUnder(tmp)).toEqual([]);
    expect(existsSync(join(svc.root, 'containers', 'ctr-1'))).toBe(false);
    await expect(svc.rootfsInfo('ctr-1')).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(await svc.removeRootfs('ctr-1')).toEqual({ removed: false });
  });

  it('refuses blob paths outside the content root, also through symlinks', async () => {
    const outside = join(tmp, 'outside');
    mkdirSync(outside);
    const out = await input([{ name: 'a', body: 'a' }], outside);
    await expect(svc.ensureLayers([out])).rejects.toThrow(/is outside the content root/);
    symlinkSync(outside, join(content, 'sneaky-dir'));
    const viaDir = { ...out, path: join(content, 'sneaky-dir', out.path.split('/').pop()!) };
    await expect(svc.ensureLayers([viaDir])).rejects.toThrow(/is outside the content root/);
    symlinkSync(out.path, join(content, 'sneaky-file'));
    await expect(svc.ensureLayers([{ ...out, path: join(content, 'sneaky-file') }])).rejects.toThrow(/cannot open \(ELOOP\)/);
    await expect(svc.ensureLayers([{ ...out, path: 'relative/blob' }])).rejects.toThrow(/must be absolute/);
    await expect(svc.ensureLayers([{ ...out, path: join(content, 'missing') }])).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(await svc.listLayers()).toEqual([]);
  });

  it('validates container ids and diffIDs before touching the filesystem', async () => {
    for (const bad of ['../x', '', '.hidden', 'a/b', 'x'.repeat(129), 'a b']) {
      await expect(svc.createRootfs(bad, [`sha256:${'a'.repeat(64)}`]), bad).rejects.toMatchObject({ name: 'InvalidArgumentError' });
      await expect(svc.removeRootfs(bad)).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    }
    await expect(svc.createRootfs('ok', ['sha256:../../etc'])).rejects.toThrow(/invalid diffID/);
    expect(readdirSync(join(svc.root, 'containers'))).toEqual([]);
  });

  it('gc removes only layers neither referenced nor used by a rootfs', async () => {
    const [a, b, c] = [await input([{ name: 'a', body: 'a' }]), await input([{ name: 'b', body: 'b' }]), await input([{ name: 'c', body: 'c' }])];
    await svc.ensureLayers([a, b, c]);
    await svc.createRootfs('uses-b', [b.diffId], { readOnly: true });
    expect(await svc.gcLayers([a.diffId])).toEqual({ removed: [c.diffId] });
    expect((await svc.listLayers()).map((l) => l.diffId).sort()).toEqual([a.diffId, b.diffId].sort());
    await svc.removeRootfs('uses-b'); // b: no image, and now no rootfs either
    expect((await svc.listLayers()).map((l) => l.diffId)).toEqual([a.diffId]);
    expect(await svc.gcLayers(new Set())).toEqual({ removed: [a.diffId] });
    expect(await svc.listLayers()).toEqual([]);
  });

  it('ImageFsInfo usage: layers plus content store for images, writable layers for containers', async () => {
    const l = await input([{ name: 'bin/app', body: 'x'.repeat(64 << 10) }]);
    await svc.ensureLayers([l]);
    const empty = await svc.imageFsUsage();
    expect(empty.containerFilesystems).toHaveLength(1);
    expect(empty.containerFilesystems[0]!.timestampNs).toBeGreaterThan(0n);
    writeFileSync(join(content, 'blob'), Buffer.alloc(256 << 10, 1));
    const { rootfsPath } = await svc.createRootfs('w1', [l.diffId]);
    writeFileSync(join(rootfsPath, 'written'), Buffer.alloc(512 << 10, 2));
    const full = await svc.imageFsUsage();
    // The content store's 256 KiB and the layer's 64 KiB both count; the container's write does not.
    expect(full.imageFilesystems[0]!.usedBytes - empty.imageFilesystems[0]!.usedBytes).toBeGreaterThanOrEqual(256 << 10);
    expect(full.imageFilesystems[0]!.usedBytes - empty.imageFilesystems[0]!.usedBytes).toBeLessThan(512 << 10);
    expect(empty.imageFilesystems[0]!.usedBytes).toBeGreaterThanOrEqual(64 << 10);
    expect(full.containerFilesystems[0]!.usedBytes - empty.containerFilesystems[0]!.usedBytes).toBeGreaterThanOrEqual(512 << 10);
    await svc.removeRootfs('w1');
    expect((await svc.imageFsUsage()).containerFilesystems[0]!.usedBytes).toBeLessThan(512 << 10);
  });

  it('ImageFsInfo usage before image-svc made its content store: zero for it, not an error', async () => {
    const early = await StorageService.open({ root: join(tmp, 'early'), contentRoot: join(tmp, 'no-content-yet') });
    const u = await early.imageFsUsage();
    expect(u.imageFilesystems.map((f) => f.mountpoint)).toEqual(['/']);
  });

  it('removing the last rootfs of a layer no image needs any more collects that layer', async () => {
    const [a, b, c] = [await input([{ name: 'a', body: 'a' }]), await input([{ name: 'b', body: 'b' }]), await input([{ name: 'c', body: 'c' }])];
    await svc.ensureLayers([a, b]);
    await svc.createRootfs('keeps-b', [b.diffId], { readOnly: true });
    await svc.removeRootfs('keeps-b'); // image-svc has not collected since start: nothing is known garbage
    expect((await svc.listLayers()).map((l) => l.diffId).sort()).toEqual([a.diffId, b.diffId].sort());
    await svc.createRootfs('b1', [b.diffId], { readOnly: true });
    await svc.createRootfs('b2', [b.diffId], { readOnly: true });
    expect(await svc.gcLayers([a.diffId])).toEqual({ removed: [] }); // b's image went; b1 and b2 hold b
    await svc.ensureLayers([c]); // unpacked after that collection: some image being pulled needs it
    await svc.createRootfs('c1', [c.diffId], { readOnly: true });
    await svc.removeRootfs('c1');
    await svc.removeRootfs('b1');
    expect((await svc.listLayers()).map((l) => l.diffId).sort()).toEqual([a.diffId, b.diffId, c.diffId].sort());
    await svc.removeRootfs('b2');
    expect((await svc.listLayers()).map((l) => l.diffId).sort()).toEqual([a.diffId, c.diffId].sort());
  });

  it('reconcile at start remounts rootfs records after their mounts vanished', async () => {
    const l = await input([{ name: 'f', body: 'f' }]);
    await svc.ensureLayers([l]);
    const { rootfsPath } = await svc.createRootfs('r1', [l.diffId]);
    execFileSync('umount', [rootfsPath]);
    const restarted = await StorageService.open({ root: join(tmp, 'storage'), contentRoot: content });
    const report = await restarted.reconcile(['r1']);
    expect(report.rootfs.remounted).toEqual(['r1']);
    expect(readFileSync(join(rootfsPath, 'f'), 'utf8')).toBe('f');
    expect((await restarted.containerUsage('r1')).mountpoint).toBe('/');
  });

  it('refuses a storage root that overlay options cannot carry', async () => {
    await expect(StorageService.open({ root: join(tmp, 'a,b'), contentRoot: content })).rejects.toThrow(/must not contain/);
    await expect(StorageService.open({ root: 'rel', contentRoot: content })).rejects.toThrow(/must be absolute/);
  });
});
