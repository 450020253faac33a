// bench/images: the images the benches push to the loopback registry — a
// pause image (catatonit -P, for containerd's sandbox_image), busybox, and a
// large multi-layer image of incompressible random data for the pull bench.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { packTar } from '../services/image-svc/src/image-builder.js';
import {
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  blob,
  buildImage,
  buildLayer,
  descriptor,
  pushImage,
  sha256,
  type Layer,
  type OciImage,
} from '../test/fixtures/oci-image.js';

const gzipAsync = promisify(gzip);
const MTIME = new Date('2024-01-01T00:00:00Z');

/** A one-platform OCI image from ready-made layers and an image config. */
export function imageFromLayers(layers: Layer[], config: Record<string, unknown>): OciImage {
  const platform = { os: 'linux', architecture: 'amd64' };
  const cfg = {
    created: MTIME.toISOString(),
    ...platform,
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
  const configBlob = blob(OCI_CONFIG, Buffer.from(JSON.stringify(cfg)));
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(configBlob), layers: layers.map(descriptor) };
  return { manifest: blob(OCI_MANIFEST, Buffer.from(JSON.stringify(manifest))), config: configBlob, layers, platform };
}

/** The host's static catatonit as /catatonit, run in pause mode. */
export async function buildPauseImage(): Promise<OciImage> {
  const layer = await buildLayer([{ path: 'catatonit', content: readFileSync('/usr/bin/catatonit'), mode: 0o755 }]);
  return imageFromLayers([layer], { Entrypoint: ['/catatonit', '-P'], Env: ['PATH=/'] });
}

/** One layer holding a single file of `bytes` random bytes, gzip level 1 (random data does not compress anyway). */
export async function randomLayer(index: number, bytes: number): Promise<Layer> {
  const raw = await packTar([
    { header: { name: 'data/', type: 'directory', mode: 0o755, mtime: MTIME } },
    { header: { name: `data/layer-${index}.bin`, mode: 0o644, mtime: MTIME }, body: randomBytes(bytes) },
  ]);
  const gz = await gzipAsync(raw, { level: 1 });
  return { ...blob(OCI_LAYER_GZIP, gz), diffId: sha256(raw) };
}

/** A large image of `layers` layers of `mbPerLayer` MB random data each (pulled, never run). */
export async function buildBigImage(layers: number, mbPerLayer: number): Promise<OciImage> {
  const out: Layer[] = [];
  for (let i = 0; i < layers; i++) out.push(await randomLayer(i, mbPerLayer * 1024 * 1024));
  return imageFromLayers(out, { Env: ['PATH=/'], Cmd: ['/data'] });
}

export function imageBytes(img: OciImage): number {
  return img.layers.reduce((s, l) => s + l.size, img.config.size + img.manifest.size);
}

export interface BenchImages {
  busybox: string;
  pause: string;
}

/** Pushes busybox and the pause image; returns their references. */
export async function pushBaseImages(registryUrl: string, registryHost: string): Promise<BenchImages> {
  await pushImage(registryUrl, 'bench/busybox', '1', await buildImage({ cmd: ['sh'] }));
  await pushImage(registryUrl, 'bench/pause', '1', await buildPauseImage());
  return { busybox: `${registryHost}/bench/busybox:1`, pause: `${registryHost}/bench/pause:1` };
}
