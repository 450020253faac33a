// Writes OCI image layouts (oci-layout, index.json, blobs/sha256/<hex>) from
// in-memory images, as a directory or as one tar, and builds the busybox demo
// image `crius up --demo` imports without a registry. Owner: image-svc.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { digestHex } from './digest.js';
import {
  BUILD_MTIME, busyboxEntries, buildImage, buildLayer, descriptor, type Blob, type BuiltImage, type BuiltIndex, type FileEntry,
} from './image-builder.js';
import { MediaType } from './manifest.js';
import { hostPlatform } from './platform.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const LAYOUT_VERSION = JSON.stringify({ imageLayoutVersion: '1.0.0' });

export interface LayoutFile {
  path: string;
  data: Buffer;
}

/** Every file of a layout holding `image` (an image or an index) under `refName`. */
export function layoutFiles(image: BuiltImage | BuiltIndex, refName?: string): LayoutFile[] {
  const images = 'index' in image ? image.images : [image];
  const blobs = new Map<string, Blob>();
  for (const b of images.flatMap((img) => [img.manifest, img.config, ...img.layers])) blobs.set(b.digest, b);
  if ('index' in image) blobs.set(image.index.digest, image.index);
  const top = 'index' in image ? image.index : image.manifest;
  const entry = { ...descriptor(top), ...(refName ? { annotations: { [REF_NAME_ANNOTATION]: refName } } : {}) };
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] };
  return [
    { path: 'oci-layout', data: Buffer.from(LAYOUT_VERSION) },
    { path: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    ...[...blobs.values()].map((b) => ({ path: `blobs/sha256/${digestHex(b.digest)}`, data: b.data })),
  ];
}

/** A layout directory (for `skopeo copy oci:<dir>:<ref>`). */
export async function writeOciLayoutDir(dir: string, image: BuiltImage | BuiltIndex, refName?: string): Promise<void> {
  for (const f of layoutFiles(image, refName)) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.data);
  }
}

/** A layout as one tar (an `oci-archive`), written to a temp file and renamed into place. */
export async function writeOciLayoutTar(outFile: string, image: BuiltImage | BuiltIndex, refName?: string): Promise<void> {
  const temp = `${outFile}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const tar = pack();
    const written = pipeline(tar, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    for (const dir of ['blobs/', 'blobs/sha256/']) tar.entry({ name: dir, type: 'directory', mode: 0o755, mtime: BUILD_MTIME });
    for (const f of layoutFiles(image, refName)) tar.entry({ name: f.path, mode: 0o644, mtime: BUILD_MTIME }, f.data);
    tar.finalize();
    await written;
    const fh = await open(temp, 'r');
    await fh.sync().finally(() => fh.close());
    await rename(temp, outFile);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export const DEMO_REF = 'localhost/crius-demo/busybox:latest';
/** Serves /www on port 80 in the foreground (busybox httpd). */
export const DEMO_CMD = ['httpd', '-f', '-v', '-p', '80', '-h', '/www'];
export const DEMO_APPLETS = [
  'sh', 'httpd', 'echo', 'cat', 'sleep', 'wget', 'ls', 'id', 'hostname', 'env', 'ps', 'top', 'true', 'false',
  'mkdir', 'rm', 'touch', 'printf', 'kill', 'wc', 'date', 'uname', 'grep', 'ip', 'nc', 'nslookup', 'df', 'mount',
];

export interface BusyboxLayoutOptions {
  /** Stored as the index.json ref.name; a full reference so import needs no name. */
  ref?: string;
  busyboxPath?: string;
  cmd?: string[];
}

export interface BuiltLayout {
  ref: string;
  /** Image ID: the config digest. */
  imageId: string;
  manifestDigest: string;
}

const DEMO_PAGE = `<!doctype html>
<html><head><title>crius demo</title></head>
<body><h1>Hello from crius</h1>
<p>This page is served by busybox httpd in a container that crius started.</p>
</body></html>
`;

function demoFiles(): FileEntry[] {
  return [
    { path: 'etc/' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' },
    { path: 'etc/group', content: 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' },
    { path: 'www/' },
    { path: 'www/index.html', content: DEMO_PAGE },
  ];
}

/** Writes the one-layer busybox demo image as an OCI layout tar at `outFile`. */
export async function buildBusyboxLayout(outFile: string, opts: BusyboxLayoutOptions = {}): Promise<BuiltLayout> {
  const ref = opts.ref ?? DEMO_REF;
  const entries = [...busyboxEntries(await readFile(opts.busyboxPath ?? '/bin/busybox'), DEMO_APPLETS), ...demoFiles()];
  // The host's busybox runs on the host's platform.
  const { os, architecture, variant } = hostPlatform();
  const image = buildImage([await buildLayer(entries)], {
    os, architecture, variant,
    cmd: opts.cmd ?? DEMO_CMD,
    exposedPorts: ['80/tcp'],
    historyNote: 'crius demo busybox',
    labels: { 'org.opencontainers.image.title': 'crius demo busybox' },
  });
  await writeOciLayoutTar(outFile, image, ref);
  return { ref, imageId: image.config.digest, manifestDigest: image.manifest.digest };
}
