// Mirrors: a second real registry tried before the origin, falling back to
// the origin when the mirror is down or lacks the image; a pull-through
// cache registry in front of the origin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { freePort, startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

let origin: RunningRegistry;
let mirror: RunningRegistry;
let image: OciImage;
let onlyInMirror: OciImage;

beforeAll(async () => {
  [origin, mirror] = await Promise.all([startRegistry(), startRegistry()]);
  image = await buildImage({ cmd: ['echo', 'origin'] });
  onlyInMirror = await buildImage({ cmd: ['echo', 'mirror'] });
  await pushImage(origin.url, 'app', '1', image);
  await pushImage(mirror.url, 'app', 'mirrored', onlyInMirror);
});

afterAll(async () => {
  await Promise.all([origin?.stop(), mirror?.stop()]);
});

const blobGets = (r: RunningRegistry) => r.accessLog().filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));

describe('registry mirrors', () => {
  it('pulls through the mirror first, recording the name the user gave', async () => {
    const s = await newService({ registries: { unqualifiedSearchRegistries: [], registries: [{ host: origin.host, mirrors: [{ host: mirror.host }] }] } });
    try {
      origin.clearLog();
      const id = await s.service.pull(`${origin.host}/app:mirrored`);
      expect(id).toBe(onlyInMirror.config.digest);
      expect((await s.service.list())[0]!.repoTags).toEqual([`${origin.host}/app:mirrored`]);
      expect(origin.accessLog()).toEqual([]);
      expect(blobGets(mirror).length).toBeGreaterThanOrEqual(3);
    } finally {
      await s.close();
    }
  });

  it('falls back to the origin when the mirror lacks the image or is down', async () => {
    const deadPort = await freePort();
    const s = await newService({
      registries: { unqualifiedSearchRegistries: [], registries: [{ host: origin.host, mirrors: [{ host: `127.0.0.1:${deadPort}` }, { host: mirror.host }] }] },
    });
    try {
      mirror.clearLog();
      origin.clearLog();
      const id = await s.service.pull(`${origin.host}/app:1`);
      expect(id).toBe(image.config.digest);
      expect(mirror.accessLog().some((e) => e.path === '/v2/app/manifests/1' && e.status === 404)).toBe(true);
      expect(blobGets(mirror)).toEqual([]);
      expect(blobGets(origin)).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it('works with a pull-through cache registry as the mirror', async () => {
    const cache = await startRegistry({ proxyRemoteUrl: origin.url });
    const s = await newService({ registries: { unqualifiedSearchRegistries: [], registries: [{ host: origin.host, mirrors: [{ host: cache.host }] }] } });
    try {
      const id = await s.service.pull(`${origin.host}/app:1`);
      expect(id).toBe(image.config.digest);
      expect(blobGets(cache).filter((e) => e.status === 200)).toHaveLength(3);
    } finally {
      await s.close();
      await cache.stop();
    }
  });
});
