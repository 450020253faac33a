// ImageService end to end through the CRI socket, as kubelet drives it: a
// real registry on loopback, image-svc pulling, storage-svc unpacking each
// layer once, list/status/remove, and no orphans left after removal.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import { startStack, type TestStack } from '../harness/stack.js';
import { callCri, rawClient } from '../harness/raw-cri.js';
import { buildImage, buildIndex, pushImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { startLyingRegistry } from '../image/lab-servers.js';

let reg: RunningRegistry;
let s: TestStack;
let client: Client;
let digest: string;
let configDigest: string;

beforeAll(async () => {
  reg = await startRegistry();
  const img = await buildImage({ cmd: ['sh'], env: ['A=1'], user: 'nobody', extraLayers: [[{ path: 'hello.txt', content: 'hi\n' }]] });
  digest = await pushImage(reg.url, 'library/busybox', '1.36', img);
  configDigest = img.config.digest;
  await pushImage(reg.url, 'multi/busybox', 'latest', buildIndex([img, await buildImage({ architecture: 'arm64' })]));
  s = await startStack();
  client = rawClient(s.config.api.listen);
});
afterAll(async () => {
  client?.close();
  await s?.stop();
  await reg?.stop();
});

const ref = () => `${reg.host}/library/busybox:1.36`;

describe('images through the gateway', () => {
  it('pulls by tag and reports the image ID', async () => {
    const r = await callCri(client, 'PullImage', { image: { image: ref() } }, 60_000);
    if (!r.ok) throw r.error;
    // The image ID is the digest of the image's config, as containerd and CRI-O report it.
    expect((r.reply as { imageRef: string }).imageRef).toBe(configDigest);
  });

  it('lists and inspects it with tags, digests, size and user', async () => {
    const list = await callCri(client, 'ListImages', {});
    if (!list.ok) throw list.error;
    const images = (list.reply as { images: { repoTags: string[]; repoDigests: string[]; size: bigint }[] }).images;
    expect(images).toHaveLength(1);
    expect(images[0]!.repoTags).toEqual([ref()]);
    expect(images[0]!.repoDigests).toEqual([`${reg.host}/library/busybox@${digest}`]);
    expect(images[0]!.size).toBeGreaterThan(100_000n);
    const st = await callCri(client, 'ImageStatus', { image: { image: ref() }, verbose: true });
    if (!st.ok) throw st.error;
    const reply = st.reply as { image: { username: string }; info: Record<string, string> };
    expect(reply.image.username).toBe('nobody');
    expect(JSON.parse(reply.info.info!)).toHaveProperty('imageSpec');
  });

  it('unpacked every layer once in storage-svc', async () => {
    const layers = await readdir(path.join(s.config.state.root, 'storage', 'layers'));
    expect(layers.filter((l) => /^[0-9a-f]{64}$/.test(l))).toHaveLength(3);
  });

  it('pulls the node platform out of an index', async () => {
    const r = await callCri(client, 'PullImage', { image: { image: `${reg.host}/multi/busybox:latest` } }, 60_000);
    if (!r.ok) throw r.error;
    // The index holds the amd64 image pushed above and an arm64 one: the node's is the amd64 one.
    expect((r.reply as { imageRef: string }).imageRef).toBe(configDigest);
  });

  it('reports an unknown image as absent, not as an error', async () => {
    const st = await callCri(client, 'ImageStatus', { image: { image: `${reg.host}/nothing/here:1` } });
    // api.proto: "If the image isn't present, returns a response with ImageStatusResponse.Image set to nil."
    if (!st.ok) throw new Error(`ImageStatus of an absent image failed (${st.error.code}): ${st.error.details}`);
    expect((st.reply as { image?: unknown }).image).toBeUndefined();
  });

  it('refuses a bad reference with INVALID_ARGUMENT', async () => {
    const r = await callCri(client, 'PullImage', { image: { image: 'UPPER/Case::bad' } });
    expect(!r.ok && r.error.code).toBe(status.INVALID_ARGUMENT);
  });

  it('is UNAVAILABLE naming the registry when it cannot be reached', async () => {
    const r = await callCri(client, 'PullImage', { image: { image: '127.0.0.1:1/x/y:z' } }, 60_000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(status.UNAVAILABLE);
      expect(r.error.details).toContain('127.0.0.1:1');
    }
  });

  it('reports image filesystem usage', async () => {
    const r = await callCri(client, 'ImageFsInfo', {});
    if (!r.ok) throw r.error;
    const fs = (r.reply as { imageFilesystems: { usedBytes: { value: bigint } }[] }).imageFilesystems;
    expect(fs[0]!.usedBytes.value).toBeGreaterThan(100_000n);
  });

  it('a layer with forged bytes fails the pull and leaves no layer, partial or unpack in progress behind', async () => {
    const img = await buildImage({ cmd: ['sh'], extraLayers: [[{ path: 'a.bin', content: randomBytes(400_000) }], [{ path: 'b.bin', content: randomBytes(400_000) }]] });
    const forgedLayer = img.layers.at(-1)!;
    const forged = Buffer.from(forgedLayer.data);
    forged[forged.length - 100] ^= 0xff;
    const liar = await startLyingRegistry(img, { blobs: { [forgedLayer.digest]: forged } });
    const layersDir = path.join(s.config.state.root, 'storage', 'layers');
    const before = (await readdir(layersDir)).sort();
    try {
      const r = await callCri(client, 'PullImage', { image: { image: `${liar.host}/app:1` } }, 60_000);
      expect(!r.ok && r.error.code).toBe(status.FAILED_PRECONDITION);
      expect(!r.ok && r.error.details).toContain(`digest mismatch: expected ${forgedLayer.digest}`);
      // storage-svc was reading the forged layer as it arrived: it stops once image-svc deletes
      // the partial file, and the layers that did unpack are collected.
      let now: string[] = [];
      for (let i = 0; i < 100; i++) {
        now = (await readdir(layersDir)).sort();
        if (now.join() === before.join()) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(now).toEqual(before);
      expect(await readdir(path.join(s.config.state.root, 'image', 'content', 'ingest'))).toEqual([]);
    } finally {
      await liar.close();
    }
  });

  it('removes images and leaves no blob or layer behind', async () => {
    for (const image of [ref(), `${reg.host}/multi/busybox:latest`]) {
      const r = await callCri(client, 'RemoveImage', { image: { image } });
      if (!r.ok) throw r.error;
    }
    const list = await callCri(client, 'ListImages', {});
    expect(list.ok && (list.reply as { images: unknown[] }).images).toEqual([]);
    const blobs = await readdir(path.join(s.config.state.root, 'image', 'content', 'blobs', 'sha256')).catch(() => []);
    expect(blobs).toEqual([]);
    const layers = (await readdir(path.join(s.config.state.root, 'storage', 'layers'))).filter((l) => /^[0-9a-f]{64}$/.test(l));
    expect(layers).toEqual([]);
  });
});
