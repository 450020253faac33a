// [image] pinned_images and the sandbox image against a real registry:
// ImageStatus/ListImages report pinned, layer collection after a removal keeps
// a pinned image's layers, and an explicit RemoveImage still removes one (CRI-O).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '@crius/common';
import { pinnedFromConfig } from '../../services/image-svc/src/service.js';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

let registry: RunningRegistry;
let pause: OciImage;
let kept: OciImage;
let loose: OciImage;

beforeAll(async () => {
  registry = await startRegistry();
  // Each image has a layer of its own, so collection has something to drop or keep.
  pause = await buildImage({ extraLayers: [[{ path: 'pause', content: 'pause' }]] });
  kept = await buildImage({ extraLayers: [[{ path: 'kept', content: 'kept' }]] });
  loose = await buildImage({ extraLayers: [[{ path: 'loose', content: 'loose' }]] });
  await pushImage(registry.url, 'pause', '3.10', pause);
  await pushImage(registry.url, 'team/keep-me', '1', kept);
  await pushImage(registry.url, 'other', '1', loose);
});

afterAll(async () => {
  await registry?.stop();
});

describe('pinned images', () => {
  it('reports pinned_images matches and the sandbox image as pinned, and keeps their layers on collection', async () => {
    const config = parseConfig(`[image]\npinned_images = ["*KEEP-me*"]\npause_image = "${registry.host}/pause:3.10"\n`);
    const s = await newService({ pinnedImages: pinnedFromConfig(config) });
    try {
      for (const name of ['pause:3.10', 'team/keep-me:1', 'other:1']) await s.service.pull(`${registry.host}/${name}`);
      const pinned = Object.fromEntries((await s.service.list()).map((i) => [i.repoTags[0], i.pinned]));
      expect(pinned).toEqual({
        [`${registry.host}/pause:3.10`]: true, [`${registry.host}/team/keep-me:1`]: true, [`${registry.host}/other:1`]: false,
      });
      expect((await s.service.status(`${registry.host}/team/keep-me:1`))?.image.pinned).toBe(true);
      expect((await s.service.list(`${registry.host}/other:1`))[0]?.pinned).toBe(false);

      await s.service.remove(`${registry.host}/other:1`);
      await s.service.collectLayers();
      const own = (i: OciImage) => i.layers.at(-1)!.diffId;
      expect(s.unpacker.stored.has(own(loose))).toBe(false);
      expect(s.unpacker.stored.has(own(kept))).toBe(true);
      expect(s.unpacker.stored.has(own(pause))).toBe(true);

      // Pinning keeps the kubelet's GC away; an operator's explicit removal still works.
      await s.service.remove(`${registry.host}/team/keep-me:1`);
      expect(await s.service.status(`${registry.host}/team/keep-me:1`)).toBeNull();
    } finally {
      await s.close();
    }
  });
});
