// Builds small OCI images in memory from file lists: layer tars (tar-stream,
// gzip), image config, manifest, multi-platform index. Used by the demo image
// (oci-layout-writer.ts) and by the test fixtures, so both make the same kind
// of image. Deterministic: fixed mtime, so equal inputs give equal digests.
// Owner: image-svc.
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

/** What tar-stream takes for an entry: any header fields, a name at least. */
export type TarHeader = Partial<Header> & Pick<Header, 'name'>;
import { sha256Digest } from './digest.js';
import { MediaType } from './manifest.js';

/** Fixed mtime so the same inputs always give the same digests. */
export const BUILD_MTIME = new Date('2024-01-01T00:00:00Z');

export interface FileEntry {
  path: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface Layer extends Blob {
  diffId: string;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: Layer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuiltIndex {
  index: Blob;
  images: BuiltImage[];
}

export interface ImageBuildOptions {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  user?: string;
  workingDir?: string;
  exposedPorts?: string[];
  stopSignal?: string;
  labels?: Record<string, string>;
  os?: string;
  architecture?: string;
  variant?: string;
  /** Docker schema2 media types instead of OCI. */
  docker?: boolean;
  annotations?: Record<string, string>;
  /** `created_by` of each history entry, before its layer number. */
  historyNote?: string;
}

export function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256Digest(data), size: data.length, data };
}

export function descriptor(b: Blob): { mediaType: string; digest: string; size: number } {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

/** An uncompressed tar of `entries`, in order. */
export async function buildTar(entries: FileEntry[]): Promise<Buffer> {
  return packTar(
    entries.map((e) => {
      const type = e.type ?? (e.linkname ? 'symlink' : e.content === undefined ? 'directory' : 'file');
      const header: TarHeader = {
        name: e.path, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: BUILD_MTIME, ...(e.linkname ? { linkname: e.linkname } : {}),
      };
      return { header, body: type === 'file' ? Buffer.from(e.content ?? '') : undefined };
    }),
  );
}

/**
 * A tar of exactly these headers and bodies, in memory (tar-stream writes what it is
 * given: tests use this for hostile entries too). A body sets the entry's size.
 */
export async function packTar(entries: { header: TarHeader; body?: Buffer }[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) tar.entry({ ...header, size: body.length }, body, done);
      else tar.entry(header, done);
    });
  }
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A gzip-compressed layer from entries; diffId is the sha256 of the uncompressed tar. */
export async function buildLayer(entries: FileEntry[], mediaType: string = MediaType.OciLayerGzip): Promise<Layer> {
  const raw = await buildTar(entries);
  return { ...blob(mediaType, gzipSync(raw)), diffId: sha256Digest(raw) };
}

/** A static busybox (its bytes) at /bin/busybox with `applets` as symlinks to it, plus /tmp, /root, /home. */
export function busyboxEntries(busybox: Buffer, applets: readonly string[]): FileEntry[] {
  return [
    { path: 'bin/' },
    { path: 'bin/busybox', content: busybox, mode: 0o755 },
    ...applets.map((name) => ({ path: `bin/${name}`, linkname: 'busybox' })),
    { path: 'tmp/', mode: 0o1777 },
    { path: 'root/', mode: 0o700 },
    { path: 'home/' },
  ];
}

/** Config and manifest over already-built layers (bottom first). */
export function buildImage(layers: Layer[], opts: ImageBuildOptions = {}): BuiltImage {
  const platform = { os: opts.os ?? 'linux', architecture: opts.architecture ?? 'amd64', ...(opts.variant ? { variant: opts.variant } : {}) };
  const created = BUILD_MTIME.toISOString();
  const config = {
    created,
    ...platform,
    config: {
      User: opts.user,
      Env: opts.env ?? ['PATH=/bin'],
      Entrypoint: opts.entrypoint,
      Cmd: opts.cmd ?? ['sh'],
      WorkingDir: opts.workingDir,
      ExposedPorts: opts.exposedPorts ? Object.fromEntries(opts.exposedPorts.map((p) => [p, {}])) : undefined,
      StopSignal: opts.stopSignal,
      Labels: opts.labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `${opts.historyNote ?? 'crius image builder'} layer ${i}` })),
  };
  const configBlob = blob(opts.docker ? MediaType.DockerConfig : MediaType.OciConfig, Buffer.from(JSON.stringify(config)));
  const manifestType = opts.docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: descriptor(configBlob),
    layers: layers.map(descriptor),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return { manifest: blob(manifestType, Buffer.from(JSON.stringify(manifest))), config: configBlob, layers, platform };
}

export function buildIndex(images: BuiltImage[]): BuiltIndex {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((img) => ({ ...descriptor(img.manifest), platform: img.platform })),
  };
  return { index: blob(MediaType.OciIndex, Buffer.from(JSON.stringify(index))), images };
}
