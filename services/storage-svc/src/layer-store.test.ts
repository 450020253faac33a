// LayerStore for real: unpack once per diffID, short links, durable records, remove, gc, reconcile.
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerStore, type LayerSource } from './layer-store.js';
import { cleanupDir, layerBlob, tempDir } from './test-support/tars.js';

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
let tmp: string;
let store: LayerStore;
beforeEach(async () => {
  tmp = tempDir('store');
  store = new LayerStore({ root: join(tmp, 'root') });
  await store.init();
});
afterEach(() => cleanupDir(tmp));

function source(path: string, counter?: { opens: number }): LayerSource {
  return {
    mediaType: GZ,
    digest: `sha256:${'d'.repeat(64)}`,
    open: async () => {
      if (counter) counter.opens++;
      return open(path, 'r');
    },
  };
}

describe('LayerStore', () => {
  it('stores a layer under its diffID with a record and a short link', async () => {
    const { diffId, path, tar } = await layerBlob(tmp, [{ name: 'etc/os-release', body: 'ID=test' }]);
    const { record, created } = await store.ensure(diffId, source(path));
    const hex = diffId.slice(7);
    expect(created).toBe(true);
    expect(record).toMatchObject({ version: 1, diffId, size: tar.length, shortId: hex.slice(0, 26), digest: `sha256:${'d'.repeat(64)}` });
    expect(readFileSync(join(store.layersDir, hex, 'diff/etc/os-release'), 'utf8')).toBe('ID=test');
    expect(JSON.parse(readFileSync(join(store.layersDir, hex, 'layer.json'), 'utf8'))).toEqual(record);
    expect(readlinkSync(join(store.linksDir, record.shortId))).toBe(`../layers/${hex}/diff`);
    expect(readFileSync(join(store.linksDir, record.shortId, 'etc/os-release'), 'utf8')).toBe('ID=test');
    expect(await store.list()).toEqual([record]);
  });

  it('unpacks once for concurrent and repeated ensure of one diffID', async () => {
    const { diffId, path } = await layerBlob(tmp, [{ name: 'a', body: 'x'.repeat(200_000) }]);
    const counter = { opens: 0 };
    const results = await Promise.all([1, 2, 3].map(() => store.ensure(diffId, source(path, counter))));
    expect(counter.opens).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await store.ensure(diffId, source(path, counter))).created).toBe(false);
    expect(counter.opens).toBe(1);
  });

  it('leaves nothing behind when a layer fails to unpack', async () => {
    const { path } = await layerBlob(tmp, [{ name: 'a', body: 'x' }]);
    const wrong = `sha256:${'1'.repeat(64)}`;
    await expect(store.ensure(wrong, source(path))).rejects.toThrow(/diffID mismatch/);
    expect(readdirSync(store.layersDir)).toEqual([]);
    expect(readdirSync(store.linksDir)).toEqual(['_empty']);
  });

  it('refuses malformed diffIDs', async () => {
    await expect(store.ensure('sha256:abc', source('/nonexistent'))).rejects.toThrow(/invalid diffID "sha256:abc"/);
    await expect(store.ensure(`md5:${'a'.repeat(64)}`, source('/nonexistent'))).rejects.toThrow(/invalid diffID/);
  });

  it('removes a layer with its link; gc keeps only referenced layers', async () => {
    const ids: string[] = [];
    for (const n of ['a', 'b', 'c']) {
      const { diffId, path } = await layerBlob(tmp, [{ name: n, body: n }]);
      await store.ensure(diffId, source(path));
      ids.push(diffId);
    }
    expect(await store.remove(ids[0]!)).toBe(true);
    expect(await store.remove(ids[0]!)).toBe(false);
    expect(existsSync(join(store.layersDir, ids[0]!.slice(7)))).toBe(false);
    expect(existsSync(join(store.linksDir, ids[0]!.slice(7, 33)))).toBe(false);
    expect(await store.gc(new Set([ids[2]!]))).toEqual([ids[1]]);
    expect((await store.list()).map((r) => r.diffId)).toEqual([ids[2]]);
    expect(readdirSync(store.linksDir).sort()).toEqual(['_empty', ids[2]!.slice(7, 33)].sort());
  });

  it('reconcile removes crash leftovers and broken records, and rebuilds links', async () => {
    const { diffId, path } = await layerBlob(tmp, [{ name: 'a', body: 'a' }]);
    const { record } = await store.ensure(diffId, source(path));
    rmSync(join(store.linksDir, record.shortId));
    mkdirSync(join(store.layersDir, '.tmp-abc-123/diff'), { recursive: true });
    mkdirSync(join(store.layersDir, 'f'.repeat(64), 'diff'), { recursive: true });
    writeFileSync(join(store.layersDir, 'f'.repeat(64), 'layer.json'), '{torn');
    writeFileSync(join(store.linksDir, 'f'.repeat(26)), '');
    const report = await store.reconcile();
    expect(report.relinked).toEqual([diffId]);
    expect(report.removedPartial.sort()).toEqual(['.tmp-abc-123', 'f'.repeat(64)].sort());
    expect(report.removedLinks).toEqual(['f'.repeat(26)]);
    expect(readdirSync(store.layersDir)).toEqual([diffId.slice(7)]);
    expect(readlinkSync(join(store.linksDir, record.shortId))).toBe(`../layers/${diffId.slice(7)}/diff`);
  });
});
