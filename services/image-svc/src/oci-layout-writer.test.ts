import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingUnpacker } from '../../../test/fixtures/recording-unpacker.js';
import { sha256Digest } from './digest.js';
import { ImageService } from './image-service.js';
import { DEMO_CMD, DEMO_REF, buildBusyboxLayout } from './oci-layout-writer.js';

let work: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'crius-layout-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Name → entry (type, link target, bytes) of a tar held in memory or on disk. */
async function readTar(source: AsyncIterable<Buffer> | Buffer): Promise<Map<string, { type: string; linkname?: string | null; data: Buffer }>> {
  const ex = extract();
  const out = new Map<string, { type: string; linkname?: string | null; data: Buffer }>();
  Readable.from(Buffer.isBuffer(source) ? [source] : source).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, { type: entry.header.type ?? 'file', linkname: entry.header.linkname, data: Buffer.concat(chunks) });
  }
  return out;
}

describe('buildBusyboxLayout', () => {
  it('writes an OCI layout tar whose blobs hash to their names', async () => {
    const file = join(work, 'demo.tar');
    const built = await buildBusyboxLayout(file);
    expect(built.ref).toBe(DEMO_REF);
    const tar = await readTar(createReadStream(file));
    expect(JSON.parse(tar.get('oci-layout')!.data.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(tar.get('index.json')!.data.toString());
    expect(index.manifests).toEqual([expect.objectContaining({ digest: built.manifestDigest, annotations: { 'org.opencontainers.image.ref.name': DEMO_REF } })]);
    for (const [name, entry] of tar) {
      if (name.startsWith('blobs/sha256/') && entry.type === 'file') expect(sha256Digest(entry.data)).toBe(`sha256:${name.slice(13)}`);
    }
    expect(await readdir(work)).toEqual(['demo.tar']); // no temp file left
  });

  it('makes one busybox layer with applets, users and the demo page', async () => {
    const file = join(work, 'demo.tar');
    const built = await buildBusyboxLayout(file, { cmd: ['sleep', '1000'] });
    const tar = await readTar(createReadStream(file));
    const blob = (digest: string) => tar.get(`blobs/sha256/${digest.slice(7)}`)!.data;
    const manifest = JSON.parse(blob(built.manifestDigest).toString());
    expect(manifest.layers).toHaveLength(1);
    const config = JSON.parse(blob(built.imageId).toString());
    expect(config.config.Cmd).toEqual(['sleep', '1000']);
    const layer = await readTar(gunzipSync(blob(manifest.layers[0].digest)));
    expect(layer.get('bin/busybox')!.data.equals(await readFile('/bin/busybox'))).toBe(true);
    for (const applet of ['sh', 'httpd', 'wget', 'hostname']) expect(layer.get(`bin/${applet}`)).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    expect(layer.get('etc/passwd')!.data.toString()).toMatch(/^root:x:0:0:/);
    expect(layer.get('etc/group')!.data.toString()).toMatch(/^root:x:0:/);
    expect(layer.get('www/index.html')!.data.toString()).toContain('crius');
  });

  it('is imported by image-svc under its ref with the httpd command', async () => {
    const file = join(work, 'demo.tar');
    const built = await buildBusyboxLayout(file);
    const images = new ImageService({ root: join(work, 'root'), unpacker: new RecordingUnpacker(), platform: { os: 'linux', architecture: 'amd64' } });
    await images.init();
    try {
      expect(await images.importArchive(file)).toEqual([{ id: built.imageId, repoTags: [DEMO_REF] }]);
      const config = await images.imageConfig(DEMO_REF);
      expect(config.config.cmd).toEqual(DEMO_CMD);
      expect(config.config.exposedPorts).toEqual(['80/tcp']);
    } finally {
      await images.close();
    }
  });
});
