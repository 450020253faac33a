// Cross-checks with independent OCI tools: images our fixture builds are
// valid for skopeo and umoci, and images skopeo pushes are pulled by us.
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, buildIndex, pushImage, sha256, writeOciLayout, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

const run = promisify(execFile);
let registry: RunningRegistry;
let image: OciImage;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'crius-interop-'));
  image = await buildImage({ entrypoint: ['/bin/sh'], cmd: ['-c', 'id'], env: ['PATH=/bin', 'X=1'], user: '1000:1000', workingDir: '/home/app' });
  await pushImage(registry.url, 'app', '1', image, { chunkSize: 256 * 1024 });
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('fixture images are valid for skopeo and umoci', () => {
  it('skopeo inspects the pushed image', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/app:1`]);
    const info = JSON.parse(stdout);
    expect(info.Digest).toBe(image.manifest.digest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.Env).toEqual(['PATH=/bin', 'X=1']);
    expect(info.Architecture).toBe('amd64');
  });

  it('skopeo inspects a multi-platform index', async () => {
    const index = buildIndex([image, await buildImage({ architecture: 'arm64', variant: 'v8' })]);
    await pushImage(registry.url, 'multi', '1', index);
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/multi:1`]);
    const raw = JSON.parse(stdout);
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('umoci unpacks it (after skopeo copy to an OCI layout) into a working rootfs', async () => {
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/app:1`, `oci:${layout}:app`]);
    await run('umoci', ['unpack', '--image', `${layout}:app`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    expect((await stat(join(rootfs, 'bin/busybox'))).size).toBe((await stat('/bin/busybox')).size);
    expect(await readlink(join(rootfs, 'bin/sh'))).toBe('busybox');
    expect(await readFile(join(rootfs, 'etc/passwd'), 'utf8')).toContain('app:x:1000:1000');
    expect((await lstat(join(rootfs, 'tmp'))).mode & 0o7777).toBe(0o1777);
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
    expect(config.process.args).toEqual(['/bin/sh', '-c', 'id']);
    expect(config.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(config.process.cwd).toBe('/home/app');
  });
});

describe('images pushed by skopeo are pulled by crius', () => {
  it.each([
    ['OCI as is', []],
    ['converted to Docker schema2', ['--format', 'v2s2']],
  ])('%s', async (_name, flags) => {
    const layout = join(work, `ours-${flags.length}`);
    await writeOciLayout(layout, image, 'v1');
    const repo = `skopeo/app${flags.length}`;
    await run('skopeo', ['copy', ...flags, '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${registry.host}/${repo}:v1`]);
    const s = await newService();
    try {
      const id = await s.service.pull(`${registry.host}/${repo}:v1`);
      const cfg = await s.service.imageConfig(id);
      expect(cfg.diffIds).toEqual(image.layers.map((l) => l.diffId));
      expect(cfg.config.entrypoint).toEqual(['/bin/sh']);
      expect(s.unpacker.unpackedLayers().map((l) => l.diffId)).toEqual(image.layers.map((l) => l.diffId).sort());
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repo}:v1`]);
      expect((await s.service.list())[0]!.repoDigests).toEqual([`${registry.host}/${repo}@${sha256(stdout)}`]);
    } finally {
      await s.close();
    }
  });
});
