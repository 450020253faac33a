// image-svc against a real docker-registry on 127.0.0.1: pull by tag, by
// digest, from an index; list, status, remove; short-name search.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '@crius/common';
import { ImageService } from '../../services/image-svc/src/image-service.js';
import { buildImage, buildIndex, pushImage, type OciImage, type OciIndex } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService, type TestService } from './helpers.js';

let registry: RunningRegistry;
let image: OciImage;
let dockerImage: OciImage;
let multi: OciIndex;
let imageDigest: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = await buildImage({
    entrypoint: ['/bin/sh', '-c'], cmd: ['echo hello'], env: ['PATH=/bin', 'GREETING=hi'], user: '1000:1000',
    workingDir: '/home/app', exposedPorts: ['8080/tcp'], stopSignal: 'SIGQUIT', labels: { team: 'crius' },
    annotations: { 'org.opencontainers.image.title': 'fixture' },
    extraLayers: [[{ path: 'srv/' }, { path: 'srv/index.html', content: 'hello\n' }]],
  });
  dockerImage = await buildImage({ docker: true, user: 'app' });
  const amd = await buildImage({ labels: { arch: 'amd64' } });
  const arm = await buildImage({ architecture: 'arm64', variant: 'v8', labels: { arch: 'arm64' } });
  multi = buildIndex([arm, amd]);
  imageDigest = await pushImage(registry.url, 'app', '1.0', image);
  await pushImage(registry.url, 'library/busybox', 'latest', image, { chunkSize: 300_000 });
  await pushImage(registry.url, 'busybox', 'latest', image);
  await pushImage(registry.url, 'ns/docker', 'v2', dockerImage);
  await pushImage(registry.url, 'multi', 'latest', multi);
});

afterAll(async () => {
  await registry?.stop();
});

async function withService<T>(fn: (s: TestService) => Promise<T>, opts = {}): Promise<T> {
  const s = await newService(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('pull from a real registry', () => {
  it('pulls by tag, unpacks every layer once and records the image', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/app:1.0`);
    expect(id).toBe(image.config.digest);
    expect(s.unpacker.unpackedLayers().map((l) => [l.digest, l.diffId])).toEqual([...image.layers].sort((a, b) => a.diffId.localeCompare(b.diffId)).map((l) => [l.digest, l.diffId]));
    expect([...s.unpacker.stored].sort()).toEqual(image.layers.map((l) => l.diffId).sort());
    expect(await s.blobs()).toEqual([image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)].sort());
    const [listed] = await s.service.list();
    expect(listed).toEqual({
      id, repoTags: [`${registry.host}/app:1.0`], repoDigests: [`${registry.host}/app@${imageDigest}`],
      size: image.manifest.size + image.config.size + image.layers.reduce((n, l) => n + l.size, 0),
      uid: { value: 1000 }, username: '', spec: { image: id, annotations: { 'org.opencontainers.image.title': 'fixture' } }, pinned: false,
    });
    const last = s.progress.filter((p) => p.layerDigest === image.layers[0]!.digest).at(-1)!;
    expect(last).toEqual({ ref: `${registry.host}/app:1.0`, layerDigest: image.layers[0]!.digest, done: image.layers[0]!.size, total: image.layers[0]!.size });
  }));

  it('gives runtime-svc the image config and diffIDs', () => withService(async (s) => {
    await s.service.pull(`${registry.host}/app:1.0`);
    const cfg = await s.service.imageConfig(`${registry.host}/app:1.0`);
    expect(cfg.config).toEqual({
      user: '1000:1000', env: ['PATH=/bin', 'GREETING=hi'], entrypoint: ['/bin/sh', '-c'], cmd: ['echo hello'], workingDir: '/home/app',
      exposedPorts: ['8080/tcp'], stopSignal: 'SIGQUIT', labels: { team: 'crius' }, volumes: [],
    });
    expect(cfg.diffIds).toEqual(image.layers.map((l) => l.diffId));
    expect(cfg.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    await expect(s.service.imageConfig('nothing:here')).rejects.toThrow(new NotFoundError('image "nothing:here" not found'));
  }));

  it('pulls by digest and by tag@digest, without inventing a tag', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/app@${imageDigest}`);
    expect(id).toBe(image.config.digest);
    let [img] = await s.service.list();
    expect(img!.repoTags).toEqual([]);
    expect(img!.repoDigests).toEqual([`${registry.host}/app@${imageDigest}`]);
    await s.service.pull(`${registry.host}/app:1.0@${imageDigest}`);
    await s.service.pull(`${registry.host}/app:1.0`);
    [img] = await s.service.list();
    expect(img!.repoTags).toEqual([`${registry.host}/app:1.0`]);
    expect((await s.service.status(`${registry.host}/app@${imageDigest}`, false))?.image.id).toBe(id);
  }));

  it('pulls Docker schema2 images', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/ns/docker:v2`);
    expect(id).toBe(dockerImage.config.digest);
    const status = await s.service.status(id, false);
    expect(status?.image.username).toBe('app');
    expect(status?.image.uid).toBeUndefined();
  }));

  it('chooses this node platform from an index and records the index digest', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/multi`);
    expect(id).toBe(multi.images[1]!.config.digest);
    const [img] = await s.service.list();
    expect(img!.repoTags).toEqual([`${registry.host}/multi:latest`]);
    expect(img!.repoDigests).toEqual([`${registry.host}/multi@${multi.index.digest}`]);
    const info = JSON.parse((await s.service.status(id, true))!.info.info!);
    expect(info.indexDigest).toBe(multi.index.digest);
    expect(info.imageSpec.config.Labels).toEqual({ arch: 'amd64' });
    expect(await s.blobs()).not.toContain(multi.images[0]!.manifest.digest);
  }));

  it('lists the platforms an index offers when none fits', () => withService(async (s) => {
    await expect(s.service.pull(`${registry.host}/multi:latest`)).rejects.toThrow(
      `pull ${registry.host}/multi:latest from registry ${registry.host}: no image for platform linux/s390x; available: linux/arm64/v8, linux/amd64`,
    );
    expect(await s.blobs()).toEqual([]);
  }, { platform: { os: 'linux', architecture: 's390x' } }));

  it('searches short names on the unqualified-search registries', () => withService(async (s) => {
    const id = await s.service.pull('busybox');
    expect(id).toBe(image.config.digest);
    expect((await s.service.list())[0]!.repoTags).toEqual([`${registry.host}/busybox:latest`]);
    expect((await s.service.status('busybox', false))?.image.id).toBe(id);
  }, { registries: { registries: [], unqualifiedSearchRegistries: [registry.host, 'docker.io'] } }));

  it('reports a missing image as NotFound naming the registry', () => withService(async (s) => {
    const err = await s.service.pull(`${registry.host}/app:nope`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(`pull ${registry.host}/app:nope: manifest nope from registry ${registry.host}: HTTP 404 MANIFEST_UNKNOWN: manifest unknown`);
    await expect(s.service.pull('Bad Name')).rejects.toBeInstanceOf(InvalidArgumentError);
  }));
});

describe('a layer storage refuses', () => {
  it('fails the pull with storage\'s error and leaves no blob and no layer behind', () => withService(async (s) => {
    s.unpacker.failWith = new InvalidArgumentError('layer refused: entry "../x" escapes the layer root');
    const err = await s.service.pull(`${registry.host}/app:1.0`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('escapes the layer root');
    expect(await s.blobs()).toEqual([]);
    expect(await s.service.list()).toEqual([]);
    expect([...s.unpacker.stored]).toEqual([]);
    expect(s.unpacker.collections).toHaveLength(1);
  }));

  it('keeps the layers of a pull still running when another pull fails', () => withService(async (s) => {
    await s.service.pull(`${registry.host}/app:1.0`);
    s.unpacker.failWith = new InvalidArgumentError('refused');
    await expect(s.service.pull(`${registry.host}/ns/docker:v2`)).rejects.toBeInstanceOf(InvalidArgumentError);
    // What the recorded image needs is in every keep list.
    expect(s.unpacker.collections.at(-1)).toEqual(expect.arrayContaining(image.layers.map((l) => l.diffId)));
    expect([...s.unpacker.stored].sort()).toEqual(image.layers.map((l) => l.diffId).sort());
  }));
});

describe('handing layers to storage', () => {
  it('hands each layer over while it downloads, and the stored blob again if that attempt fails', () => withService(async (s) => {
    s.unpacker.failGrowingWith = new UnavailableError('blob stopped growing at 10 of 20 bytes for 10000 ms');
    await s.service.pull(`${registry.host}/app:1.0`);
    const growing = s.unpacker.handedOver.filter((l) => l.growing).map((l) => l.digest).sort();
    expect(growing).toEqual(image.layers.map((l) => l.digest).sort());
    // The second hand-over names the committed blob, not the partial file.
    expect(s.unpacker.unpackedLayers().map((l) => [l.digest, l.path.endsWith(`/blobs/sha256/${l.digest.slice(7)}`), l.growing])).toEqual(
      [...image.layers].sort((a, b) => a.diffId.localeCompare(b.diffId)).map((l) => [l.digest, true, undefined]),
    );
  }));

  it('hands over a blob that is already stored once, complete', () => withService(async (s) => {
    await s.service.pull(`${registry.host}/app:1.0`);
    const before = s.unpacker.handedOver.length;
    await s.service.pull(`${registry.host}/busybox:latest`); // the same layers under another name
    const again = s.unpacker.handedOver.slice(before);
    expect(again.map((l) => l.growing)).toEqual(image.layers.map(() => undefined));
  }));
});

describe('layer collection', () => {
  it('waits for layers on their way into storage and keeps those of running pulls', () => withService(async (s) => {
    let open!: () => void;
    s.unpacker.gate = new Promise<void>((r) => (open = r));
    const pulling = s.service.pull(`${registry.host}/app:1.0`);
    for (let i = 0; i < 500 && s.unpacker.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.unpacker.waiting).toBeGreaterThan(0);
    const collecting = s.service.collectLayers();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.unpacker.collections).toHaveLength(0); // held back by the hand-off in flight
    open();
    await Promise.all([pulling, collecting]);
    expect(s.unpacker.collections[0]).toEqual(expect.arrayContaining(image.layers.map((l) => l.diffId)));
    expect([...s.unpacker.stored].sort()).toEqual(image.layers.map((l) => l.diffId).sort());
  }));

  it('collects at start once storage answers, retrying while it starts', () => withService(async (s) => {
    await s.service.pull(`${registry.host}/app:1.0`);
    s.unpacker.stored.add('sha256:' + 'e'.repeat(64)); // a layer left by a pull that never finished
    s.unpacker.collectFailures = 2;
    const r = await s.service.collectLayersAtStart({ delayMs: 10 });
    expect(r).toEqual({ ok: true, attempts: 3 });
    expect([...s.unpacker.stored].sort()).toEqual(image.layers.map((l) => l.diffId).sort());
    s.unpacker.collectFailures = 5;
    expect(await s.service.collectLayersAtStart({ attempts: 2, delayMs: 10 })).toMatchObject({ ok: false, attempts: 2, error: 'storage-svc is not running' });
  }));
});

describe('status, list and remove', () => {
  it('finds images by ID, ID prefix, tag and digest; null when absent', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/app:1.0`);
    for (const name of [id, id.slice(7), id.slice(7, 19), `${registry.host}/app:1.0`, `${registry.host}/app@${imageDigest}`]) {
      expect((await s.service.status(name, false))?.image.id, name).toBe(id);
    }
    expect(await s.service.status(`${registry.host}/app:2.0`, false)).toBeNull();
    expect(await s.service.list(`${registry.host}/app:2.0`)).toEqual([]);
    expect((await s.service.list(`${registry.host}/app:1.0`)).map((i) => i.id)).toEqual([id]);
    const verbose = await s.service.status(id, true);
    const info = JSON.parse(verbose!.info.info!);
    expect(info.imageSpec.config.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(info.imageSpec.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    expect(info.manifestDigest).toBe(image.manifest.digest);
  }));

  // CRI RemoveImage: removing by one tag removes the image with all its tags, across repositories.
  it('removing by one tag removes the image with every tag, digest and blob', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/app:1.0`);
    await s.service.pull(`${registry.host}/library/busybox:latest`);
    expect((await s.service.list())[0]!.repoTags).toHaveLength(2);
    await s.service.remove(`${registry.host}/app:1.0`);
    expect(await s.service.list()).toEqual([]);
    expect(await s.service.status(id, false)).toBeNull();
    expect(await s.service.status(`${registry.host}/library/busybox:latest`, false)).toBeNull();
    expect(await s.blobs()).toEqual([]);
    await s.service.remove(`${registry.host}/app:1.0`); // idempotent
    await s.service.remove(id);
  }));

  it('removing by ID drops every tag; shared layers stay for the other image', () => withService(async (s) => {
    const a = await s.service.pull(`${registry.host}/app:1.0`);
    const b = await s.service.pull(`${registry.host}/ns/docker:v2`);
    await s.service.remove(a);
    expect((await s.service.list()).map((i) => i.id)).toEqual([b]);
    expect(await s.blobs()).toEqual([dockerImage.manifest.digest, dockerImage.config.digest, ...dockerImage.layers.map((l) => l.digest)].sort());
    await s.service.remove(b);
    expect(await s.blobs()).toEqual([]);
  }));

  it('survives a restart', () => withService(async (s) => {
    const id = await s.service.pull(`${registry.host}/app:1.0`);
    const again = new ImageService({ root: s.root, unpacker: s.unpacker });
    await again.init();
    expect((await again.list()).map((i) => i.id)).toEqual([id]);
    expect((await again.imageConfig(id)).diffIds).toHaveLength(3);
    await again.close();
  }));
});
