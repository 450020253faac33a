import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@crius/common';
import { dockerArchiveEntries, layoutEntries, writeTar, type TarEntry } from '../../../test/fixtures/archives.js';
import { buildImage, buildIndex, type OciImage } from '../../../test/fixtures/oci-image.js';
import { RecordingUnpacker } from '../../../test/fixtures/recording-unpacker.js';
import { ImageService, type ImageServiceOptions } from './image-service.js';
import { DOCKER_LAYER_TAR } from './import-docker.js';
import { MediaType } from './manifest.js';
import { writeOciLayoutTar } from './oci-layout-writer.js';

let image: OciImage;
let work: string;
let root: string;
let unpacker: RecordingUnpacker;
let images: ImageService;

beforeAll(async () => {
  image = await buildImage({ cmd: ['sh', '-c', 'echo hi'], env: ['PATH=/bin', 'A=1'] });
});

async function service(options: Partial<ImageServiceOptions> = {}): Promise<ImageService> {
  const s = new ImageService({ root, unpacker, platform: { os: 'linux', architecture: 'amd64' }, ...options });
  await s.init();
  return s;
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'crius-import-'));
  root = join(work, 'root');
  unpacker = new RecordingUnpacker();
  images = await service();
});

afterEach(async () => {
  await images.close();
  await rm(work, { recursive: true, force: true });
});

const blobs = async () => (await readdir(join(root, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort();
const allDigests = (img: OciImage) => [img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)].sort();

async function archive(entries: TarEntry[], name = 'image.tar', gzip = false): Promise<string> {
  const file = join(work, name);
  await writeTar(file, entries, { gzip });
  return file;
}

/** A failed import leaves no blob, no record, no staging and no unpack call. */
async function expectNothingStored(): Promise<void> {
  expect(await blobs()).toEqual([]);
  expect(await images.list()).toEqual([]);
  expect(await readdir(join(root, 'importing')).catch(() => [])).toEqual([]);
  expect(unpacker.calls).toEqual([]);
}

describe('import of an OCI layout tar', () => {
  it('stores, unpacks and tags an image named by a full ref.name', async () => {
    const file = join(work, 'layout.tar');
    await writeOciLayoutTar(file, image, 'localhost/test/app:1');
    const result = await images.importArchive(file);
    expect(result).toEqual([{ id: image.config.digest, repoTags: ['localhost/test/app:1'] }]);
    expect(await blobs()).toEqual(allDigests(image));
    expect(unpacker.calls).toHaveLength(1);
    expect(unpacker.calls[0]!.map((l) => l.diffId)).toEqual(image.layers.map((l) => l.diffId));
    const [listed] = await images.list();
    expect(listed).toMatchObject({ id: image.config.digest, repoTags: ['localhost/test/app:1'], repoDigests: [] });
    const config = await images.imageConfig('localhost/test/app:1');
    expect(config.config.cmd).toEqual(['sh', '-c', 'echo hi']);
    expect(config.config.env).toEqual(['PATH=/bin', 'A=1']);
    expect((await images.status('localhost/test/app:1', true))?.info.info).toContain(image.manifest.digest);
  });

  it('completes a tag-only ref.name with the repository the caller names', async () => {
    const file = await archive(layoutEntries(image, '1.36'));
    const [imported] = await images.importArchive(file, 'localhost/busybox');
    expect(imported!.repoTags).toEqual(['localhost/busybox:1.36']);
    expect((await images.status('localhost/busybox:1.36'))?.image.id).toBe(image.config.digest);
  });

  it('refuses a tag-only ref.name without a repository, storing nothing', async () => {
    const file = await archive(layoutEntries(image, '1.36'));
    await expect(images.importArchive(file)).rejects.toThrow(/only by the tag "1\.36".*repository/);
    await expectNothingStored();
  });

  it('takes the full name from io.containerd.image.name (docker save since 25)', async () => {
    const entries = layoutEntries(image);
    const at = entries.findIndex((e) => e.name === 'index.json');
    const index = JSON.parse(String(entries[at]!.data));
    index.manifests[0].annotations = { 'io.containerd.image.name': 'docker.io/library/busybox:1.36', 'org.opencontainers.image.ref.name': '1.36' };
    entries[at] = { name: 'index.json', data: JSON.stringify(index) };
    expect(await images.importArchive(await archive(entries))).toEqual([{ id: image.config.digest, repoTags: ['docker.io/library/busybox:1.36'] }]);
  });

  it('keeps an unnamed image untagged unless the caller gives a full reference', async () => {
    const file = await archive(layoutEntries(image));
    expect(await images.importArchive(file)).toEqual([{ id: image.config.digest, repoTags: [] }]);
    expect(await images.importArchive(file, 'localhost/named:2')).toEqual([{ id: image.config.digest, repoTags: ['localhost/named:2'] }]);
    expect((await images.list()).map((i) => i.repoTags)).toEqual([['localhost/named:2']]);
  });

  it('takes the node platform out of a nested index and records the index', async () => {
    const arm = await buildImage({ architecture: 'arm64', variant: 'v8' });
    const index = buildIndex([arm, image]);
    const file = await archive(layoutEntries(index, 'localhost/multi:1'), 'multi.tar.gz', true);
    expect(await images.importArchive(file)).toEqual([{ id: image.config.digest, repoTags: ['localhost/multi:1'] }]);
    expect(await blobs()).toEqual([index.index.digest, ...allDigests(image)].sort());
    expect(JSON.parse((await images.status('localhost/multi:1', true))!.info.info!).indexDigest).toBe(index.index.digest);
  });

  it('is idempotent: importing twice keeps one image', async () => {
    const file = await archive(layoutEntries(image, 'localhost/again:1'));
    await images.importArchive(file);
    await images.importArchive(file);
    expect(await images.list()).toHaveLength(1);
    expect(await blobs()).toEqual(allDigests(image));
  });

  it('survives a restart (the record and blobs are durable)', async () => {
    await images.importArchive(await archive(layoutEntries(image, 'localhost/durable:1')));
    await images.close();
    images = await service();
    expect((await images.status('localhost/durable:1'))?.image.id).toBe(image.config.digest);
    expect(await blobs()).toEqual(allDigests(image));
  });
});

describe('import of a docker-archive', () => {
  it('computes digests, writes a schema2 manifest and normalises RepoTags (plain layers)', async () => {
    const file = await archive(dockerArchiveEntries(image, { repoTags: ['busybox:1.36', 'localhost/app:2'], repositories: true }));
    const [imported] = await images.importArchive(file);
    expect(imported).toEqual({ id: image.config.digest, repoTags: ['docker.io/library/busybox:1.36', 'localhost/app:2'] });
    const config = await images.imageConfig('busybox:1.36');
    // Plain layer tars: the stored digest is the diffID itself.
    expect(config.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.diffId));
    expect(config.layers.map((l) => l.mediaType)).toEqual(image.layers.map(() => DOCKER_LAYER_TAR));
    const info = JSON.parse((await images.status('localhost/app:2', true))!.info.info!);
    expect(info.manifestMediaType).toBe(MediaType.DockerManifest);
    expect(await blobs()).toContain(info.manifestDigest);
    expect(unpacker.calls).toHaveLength(1);
    expect((await images.list())[0]!.repoDigests).toEqual([]);
  });

  it('keeps gzip layers as stored, with their compressed digests', async () => {
    const file = await archive(dockerArchiveEntries(image, { gzipLayers: true }));
    await images.importArchive(file);
    const config = await images.imageConfig('docker.io/library/busybox:1.36');
    expect(config.layers.map((l) => [l.digest, l.mediaType])).toEqual(image.layers.map((l) => [l.digest, MediaType.DockerLayerGzip]));
    expect(config.diffIds).toEqual(image.layers.map((l) => l.diffId));
  });

  it('follows an in-archive symlink to a layer saved once (docker save dedup)', async () => {
    const entries = dockerArchiveEntries(image);
    const manifest = entries.find((e) => e.name === 'manifest.json')!;
    const [first] = JSON.parse(String(manifest.data)) as { Layers: string[] }[];
    const dup = `${'d'.repeat(64)}/layer.tar`;
    const i = entries.findIndex((e) => e.name === first!.Layers[1]);
    entries[i] = { name: first!.Layers[1]!, type: 'symlink', linkname: `../${first!.Layers[0]}` };
    // Layer 1 now points at layer 0: the diffID check must catch it...
    await expect(images.importArchive(await archive(entries, 'bad-link.tar'))).rejects.toThrow(FailedPreconditionError);
    // ...while a link to the right bytes is fine.
    const good = dockerArchiveEntries(image);
    const j = good.findIndex((e) => e.name === first!.Layers[1]);
    good.push({ name: dup, data: good[j]!.data });
    good[j] = { name: first!.Layers[1]!, type: 'symlink', linkname: `../${dup}` };
    await images.importArchive(await archive(good, 'good-link.tar'));
    expect((await images.list())[0]!.repoTags).toEqual(['docker.io/library/busybox:1.36']);
  });
});

describe('hostile or broken archives store nothing', () => {
  const layout = () => layoutEntries(image, 'localhost/x:1');
  const layerPath = () => `blobs/sha256/${image.layers[0]!.digest.slice(7)}`;

  it.each([
    ['a name that climbs out', [{ name: '../evil', data: 'x' }], /entry "\.\.\/evil" leaves the archive/],
    ['an absolute name', [{ name: '/etc/evil', data: 'x' }], /entry "\/etc\/evil" has an absolute path/],
    ['a symlink to an absolute path', [{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }], /link "passwd" points outside/],
    ['a symlink that climbs out', [{ name: 'a/b', type: 'symlink', linkname: '../../etc/passwd' }], /link "a\/b" points outside/],
    ['a device node', [{ name: 'dev/null', type: 'character-device' }], /entry "dev\/null" is a character-device/],
    ['a duplicate entry', [{ name: 'index.json', data: '{}' }], /entry "index\.json" appears twice/],
  ] as [string, TarEntry[], RegExp][])('refuses %s with InvalidArgument naming the entry', async (_, extra, message) => {
    const file = await archive([...layout(), ...extra]);
    const err = await images.importArchive(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(message);
    await expectNothingStored();
  });

  it('refuses a missing layer blob naming its digest', async () => {
    const file = await archive(layout().filter((e) => e.name !== layerPath()));
    await expect(images.importArchive(file)).rejects.toThrow(new RegExp(`blob ${image.layers[0]!.digest}.*not in the archive`));
    await expectNothingStored();
  });

  it('refuses a blob whose content does not match its name (FailedPrecondition)', async () => {
    const file = await archive(layout().map((e) => (e.name === layerPath() ? { ...e, data: 'tampered' } : e)));
    const err = await images.importArchive(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toMatch(new RegExp(`entry "${layerPath()}": digest mismatch`));
    await expectNothingStored();
  });

  it('refuses a blob redirected by a symlink to other content', async () => {
    const entries = layout().map((e) => (e.name === layerPath() ? { name: e.name, type: 'symlink' as const, linkname: '../../other.bin' } : e));
    const file = await archive([...entries, { name: 'other.bin', data: 'other' }]);
    await expect(images.importArchive(file)).rejects.toThrow(/entry "blobs\/sha256\/[0-9a-f]{64}" \(via "other\.bin"\): digest mismatch/);
    await expectNothingStored();
  });

  it('refuses a docker-archive layer that does not match the config diffID', async () => {
    const entries = dockerArchiveEntries(image);
    const layer = entries.find((e) => e.name.endsWith('layer.tar'))!;
    layer.data = Buffer.concat([Buffer.from(layer.data!), Buffer.alloc(512)]);
    const err = await images.importArchive(await archive(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toContain(`entry "${layer.name}": layer 0`);
    await expectNothingStored();
  });

  it('refuses a docker-archive config whose name is not its digest', async () => {
    const entries = dockerArchiveEntries(image).map((e) => (e.name.endsWith('.json') && e.name !== 'manifest.json' ? { ...e, data: `${String(e.data)} ` } : e));
    await expect(images.importArchive(await archive(entries))).rejects.toThrow(/\.json": digest mismatch/);
    await expectNothingStored();
  });

  it('refuses an index.json above the manifest size limit', async () => {
    await images.close();
    images = await service({ manifestLimit: 64 });
    await expect(images.importArchive(await archive(layout()))).rejects.toThrow(/entry "index\.json" is \d+ bytes, above the limit of 64/);
    await expectNothingStored();
  });

  it('refuses files that are not image archives', async () => {
    const garbage = join(work, 'garbage.tar');
    await writeTar(garbage, [{ name: 'hello.txt', data: 'hi' }]);
    await expect(images.importArchive(garbage)).rejects.toThrow(/neither an OCI image layout .* nor a docker-archive/);
    const notTar = await archive([]);
    await (await import('node:fs/promises')).writeFile(notTar, Buffer.alloc(2048, 7));
    await expect(images.importArchive(notTar)).rejects.toThrow(/not a readable tar archive/);
    await expect(images.importArchive(join(work, 'absent.tar'))).rejects.toThrow(NotFoundError);
    await expect(images.importArchive('relative.tar')).rejects.toThrow(/must be absolute/);
    await mkdir(join(work, 'dir'));
    await expect(images.importArchive(join(work, 'dir'))).rejects.toThrow(/not a regular file/);
    await expectNothingStored();
  });

  it('removes what it stored when storage-svc cannot unpack', async () => {
    unpacker.failWith = new Error('disk full');
    await expect(images.importArchive(await archive(layout()))).rejects.toThrow('disk full');
    await expectNothingStored();
  });

  it('refuses a tagged name for an archive with two images', async () => {
    const other = await buildImage({ cmd: ['true'] });
    const entries = [...layoutEntries(image, 'localhost/a:1')];
    const index = JSON.parse(String(entries.find((e) => e.name === 'index.json')!.data));
    index.manifests.push({ mediaType: other.manifest.mediaType, digest: other.manifest.digest, size: other.manifest.size });
    entries[entries.findIndex((e) => e.name === 'index.json')] = { name: 'index.json', data: JSON.stringify(index) };
    for (const b of [other.manifest, other.config, ...other.layers]) {
      if (!entries.some((e) => e.name === `blobs/sha256/${b.digest.slice(7)}`)) entries.push({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.data });
    }
    const file = await archive(entries);
    await expect(images.importArchive(file, 'localhost/one:1')).rejects.toThrow(/holds 2 images/);
    await expectNothingStored();
    const both = await images.importArchive(file, 'localhost/repo');
    expect(both.map((i) => i.repoTags)).toEqual([['localhost/a:1'], []]);
  });
});
