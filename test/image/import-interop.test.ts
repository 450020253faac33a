// Cross-checks image import with independent OCI tools: skopeo and umoci
// accept the layout tar our writer makes (the demo image), and archives
// skopeo writes (docker-archive, oci-archive) are imported by image-svc.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CMD, DEMO_REF, buildBusyboxLayout, type BuiltLayout } from '../../services/image-svc/src/oci-layout-writer.js';
import { hostPlatform } from '../../services/image-svc/src/platform.js';
import { newService, type TestService } from './helpers.js';

const run = promisify(execFile);
let work: string;
let demo: string;
let built: BuiltLayout;
let svc: TestService;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'crius-import-interop-'));
  demo = join(work, 'demo.tar');
  built = await buildBusyboxLayout(demo);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(async () => {
  svc = await newService();
});
afterEach(async () => {
  await svc.close();
});

describe('the layout tar our writer makes', () => {
  it('is a valid oci-archive for skopeo', async () => {
    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${demo}`]);
    const info = JSON.parse(stdout);
    expect(info.Digest).toBe(built.manifestDigest);
    expect(info.Layers).toHaveLength(1);
    expect(info.Architecture).toBe(hostPlatform().architecture);
    const { stdout: config } = await run('skopeo', ['inspect', '--config', `oci-archive:${demo}`]);
    expect(JSON.parse(config).config.Cmd).toEqual(DEMO_CMD);
  });

  it('unpacks with umoci (after skopeo copy to a layout dir) into a rootfs with the demo page', async () => {
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    await run('skopeo', ['copy', `oci-archive:${demo}`, `oci:${layout}:demo`]);
    await run('umoci', ['unpack', '--image', `${layout}:demo`, bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'www', 'index.html'), 'utf8')).toContain('crius');
    expect((await readFile(join(bundle, 'rootfs', 'bin', 'busybox'))).equals(await readFile('/bin/busybox'))).toBe(true);
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
    expect(config.process.args).toEqual(DEMO_CMD);
  });
});

describe('archives skopeo writes are imported', () => {
  it('docker-archive with a RepoTag', async () => {
    const file = join(work, 'docker.tar');
    await run('skopeo', ['copy', `oci-archive:${demo}`, `docker-archive:${file}:localhost/sk/app:1`]);
    const imported = await svc.service.importArchive(file);
    expect(imported).toEqual([{ id: expect.stringMatching(/^sha256:/), repoTags: ['localhost/sk/app:1'] }]);
    const config = await svc.service.imageConfig('localhost/sk/app:1');
    expect(config.config.cmd).toEqual(DEMO_CMD);
    expect(svc.unpacker.calls).toHaveLength(1); // the recording unpacker checked digests and diffIDs
  });

  it('oci-archive with a tag-only ref.name, completed by the caller', async () => {
    const file = join(work, 'oci.tar');
    await run('skopeo', ['copy', `oci-archive:${demo}`, `oci-archive:${file}:1.0`]);
    const imported = await svc.service.importArchive(file, 'localhost/sk/oci');
    expect(imported).toEqual([{ id: built.imageId, repoTags: ['localhost/sk/oci:1.0'] }]);
  });

  it('our own demo tar, under its full ref.name', async () => {
    expect(await svc.service.importArchive(demo)).toEqual([{ id: built.imageId, repoTags: [DEMO_REF] }]);
  });
});
