// Eight kubelet-style concurrent pulls of one image download each blob once
// (counted in the real registry's access log), and the pulls all agree.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

let registry: RunningRegistry;
let image: OciImage;
let sibling: OciImage;

beforeAll(async () => {
  registry = await startRegistry();
  image = await buildImage({ extraLayers: [[{ path: 'data', content: Buffer.alloc(512 * 1024, 1) }]] });
  sibling = await buildImage({ cmd: ['true'] }); // shares the busybox and /etc layers
  await pushImage(registry.url, 'app', '1', image);
  await pushImage(registry.url, 'app', 'sibling', sibling);
});

afterAll(async () => {
  await registry?.stop();
});

it('8 concurrent pulls of the same image share one download of each blob', async () => {
  const s = await newService();
  try {
    registry.clearLog();
    // Half by tag (one shared pull), half by digest (separate pulls sharing blob downloads).
    const names = Array.from({ length: 8 }, (_, i) => (i % 2 ? `${registry.host}/app:1` : `${registry.host}/app@${image.manifest.digest}`));
    const ids = await Promise.all(names.map((name) => s.service.pull(name)));
    expect(new Set(ids)).toEqual(new Set([image.config.digest]));
    const blobGets = registry.accessLog().filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
    const perBlob = new Map<string, number>();
    for (const e of blobGets) perBlob.set(e.path, (perBlob.get(e.path) ?? 0) + 1);
    expect([...perBlob.values()]).toEqual([1, 1, 1, 1]);
    // Two pulls ran (one by tag, one by digest): each layer was unpacked by one or both.
    const perLayer = new Map<string, number>();
    for (const l of s.unpacker.unpackedLayers()) perLayer.set(l.diffId, (perLayer.get(l.diffId) ?? 0) + 1);
    expect([...perLayer.keys()].sort()).toEqual(image.layers.map((l) => l.diffId).sort());
    for (const n of perLayer.values()) expect(n).toBeLessThanOrEqual(2);
    expect((await s.service.list())[0]!.repoTags).toEqual([`${registry.host}/app:1`]);

    // A different image pulled concurrently with a re-pull reuses the stored layers.
    registry.clearLog();
    await Promise.all([s.service.pull(`${registry.host}/app:sibling`), s.service.pull(`${registry.host}/app:1`)]);
    const again = registry.accessLog().filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
    expect(again.map((e) => e.path)).toEqual([`/v2/app/blobs/${sibling.config.digest}`]);
  } finally {
    await s.close();
  }
});
