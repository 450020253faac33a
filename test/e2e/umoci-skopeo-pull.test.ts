// Pulls of an image no crius code made: built by umoci, copied into a real
// registry by skopeo once as umoci wrote it (gzip) and once recompressed to
// zstd, pulled through the CRI socket, unpacked by the real storage-svc. The
// layers crius stored, stacked by overlayfs as a container gets them, must
// give exactly the rootfs `umoci unpack` gives.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Client } from '@grpc/grpc-js';
import { useStack, type TestStack } from '../harness/stack.js';
import { cri } from '../harness/pod.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { buildWithUmoci, copyToRegistry, describeTree, type UmociImage } from '../fixtures/umoci-image.js';

const run = promisify(execFile);

let reg: RunningRegistry;
let work: string;
let built: UmociImage;
let s: TestStack;
let client: Client;

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(path.join(tmpdir(), 'crius-umoci-'));
  built = await buildWithUmoci(path.join(work, 'image'));
  await copyToRegistry(built.layout, `${reg.host}/interop/app:gzip`, 'as-is');
  await copyToRegistry(built.layout, `${reg.host}/interop/app:zstd`, 'zstd');
}, 120_000);
useStack((stack, c) => {
  s = stack;
  client = c;
});
afterAll(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const layersDir = () => path.join(s.config.state.root, 'storage', 'layers');
const storedLayers = async () => (await readdir(layersDir()).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();

async function manifest(tag: string): Promise<{ layers: { mediaType: string; digest: string }[] }> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/interop/app:${tag}`]);
  return JSON.parse(stdout);
}

/** The image's layers as crius stored them, stacked read-only by overlayfs (top layer first). */
async function pulledRootfs(image: string): Promise<{ tree: string[]; diffIds: string[] }> {
  const st = await cri<{ info: Record<string, string> }>(client, 'ImageStatus', { image: { image }, verbose: true });
  const diffIds: string[] = JSON.parse(st.info.info!).imageSpec.rootfs.diff_ids;
  const lowers = [...diffIds].reverse().map((d) => path.join(layersDir(), d.slice('sha256:'.length), 'diff'));
  // A read-only overlay needs two lowers: an empty one at the bottom changes nothing.
  const empty = path.join(work, 'empty-lower');
  await mkdir(empty, { recursive: true });
  lowers.push(empty);
  const mnt = path.join(work, `mnt-${Date.now()}`);
  await mkdir(mnt);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, mnt]);
  try {
    return { tree: await describeTree(mnt), diffIds };
  } finally {
    await run('umount', [mnt]);
    await rm(mnt, { recursive: true });
  }
}

describe('an image built by umoci and pushed by skopeo', () => {
  it('is in the registry with gzip layers and with zstd layers', async () => {
    expect((await manifest('gzip')).layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);
    const zstd = await manifest('zstd');
    expect(zstd.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd']);
    for (const l of zstd.layers) {
      const res = await request(`${reg.url}/v2/interop/app/blobs/${l.digest}`);
      const head = Buffer.from(await res.body.arrayBuffer()).subarray(0, 4);
      expect(head.readUInt32LE(0)).toBe(0xfd2fb528); // the zstd frame magic
    }
  });

  it('pulled with zstd layers, unpacks into exactly the rootfs umoci unpacks', async () => {
    expect(await storedLayers()).toEqual([]);
    const image = `${reg.host}/interop/app:zstd`;
    await cri(client, 'PullImage', { image: { image } });
    const { tree, diffIds } = await pulledRootfs(image);
    // Nothing else could have unpacked these: the store was empty before this pull.
    expect(await storedLayers()).toEqual(diffIds.map((d) => d.slice('sha256:'.length)).sort());
    const reference = await describeTree(built.referenceRootfs);
    // The fixture did what it says: layer 2 replaced a dir by a file and deleted a file; links and a FIFO survive.
    expect(reference.find((l) => l.startsWith('opt/old '))).toMatch(/ file size=11 /);
    expect(reference.some((l) => l.startsWith('opt/old/') || l.startsWith('var/empty/.keep'))).toBe(false);
    expect(reference).toContain('hardlinks opt/keep/a-hardlink.txt = opt/keep/a.txt');
    expect(reference.find((l) => l.startsWith('opt/keep/fifo '))).toMatch(/ fifo$/);
    expect(reference.find((l) => l.startsWith('opt/keep/setuid '))).toMatch(/ mode=4755 /);
    expect(tree).toEqual(reference);
    await cri(client, 'RemoveImage', { image: { image } });
    expect(await storedLayers()).toEqual([]);
  });

  it('pulled with the gzip layers umoci wrote, unpacks into the same rootfs', async () => {
    const image = `${reg.host}/interop/app:gzip`;
    await cri(client, 'PullImage', { image: { image } });
    const { tree } = await pulledRootfs(image);
    expect(tree).toEqual(await describeTree(built.referenceRootfs));
    await cri(client, 'RemoveImage', { image: { image } });
  });
});
