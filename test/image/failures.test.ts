// Failure paths against real servers: a registry that lies about digests,
// a registry that is down, and one killed in the middle of a pull.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError, UnavailableError } from '@crius/common';
import type { LoopbackServer } from '../fixtures/http-server.js';
import { buildImage, pushImage, sha256, type OciImage } from '../fixtures/oci-image.js';
import { freePort, startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';
import { startLyingRegistry, startStallingProxy } from './lab-servers.js';

let image: OciImage;
beforeAll(async () => {
  image = await buildImage({ extraLayers: [[{ path: 'big', content: Buffer.alloc(256 * 1024, 3) }]] });
});

describe('a registry serving the wrong content', () => {
  let liar: LoopbackServer | undefined;
  afterAll(async () => {
    await liar?.close();
  });

  it('rejects a layer whose bytes do not match, naming both digests, and stores nothing', async () => {
    const layer = image.layers[0]!;
    const forged = Buffer.from(layer.data);
    forged[forged.length - 100] ^= 0xff;
    liar = await startLyingRegistry(image, { blobs: { [layer.digest]: forged } });
    const s = await newService();
    try {
      const err = await s.service.pull(`${liar.host}/app:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect((err as Error).message).toBe(
        `pull ${liar.host}/app:1: blob ${layer.digest} from registry ${liar.host}: digest mismatch: expected ${layer.digest}, got ${sha256(forged)}`,
      );
      expect(await s.blobs()).toEqual([]);
      expect(await s.partials()).toEqual([]);
      expect(await s.service.list()).toEqual([]);
      // Layers that arrived before the forged one were unpacked, then collected.
      expect([...s.unpacker.stored]).toEqual([]);
    } finally {
      await s.close();
      await liar.close();
      liar = undefined;
    }
  });

  it('rejects a manifest that does not hash to the digest asked for', async () => {
    const forged = Buffer.from(image.manifest.data.toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
    liar = await startLyingRegistry(image, { manifests: { [image.manifest.digest]: forged } });
    const s = await newService();
    try {
      const err = await s.service.pull(`${liar.host}/app@${image.manifest.digest}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect((err as Error).message).toContain(`digest mismatch: expected ${image.manifest.digest}, got ${sha256(forged)}`);
      expect((err as Error).message).toContain(`from registry ${liar.host}`);
      expect(await s.blobs()).toEqual([]);
      expect(await s.service.list()).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('an unavailable registry', () => {
  it('fails with UnavailableError naming the host', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const s = await newService();
    try {
      const err = await s.service.pull(`${host}/app:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as Error).message).toBe(`pull ${host}/app:1: manifest 1 from registry ${host}: registry ${host} unreachable (ECONNREFUSED)`);
    } finally {
      await s.close();
    }
  });

  it('reports a registry killed mid-pull clearly, and a retry resumes and succeeds', async () => {
    const registry: RunningRegistry = await startRegistry();
    const layer = image.layers[0]!; // busybox, ~1 MB
    await pushImage(registry.url, 'app', '1', image);
    const proxy = await startStallingProxy(registry.url, `/v2/app/blobs/${layer.digest}`, 300_000);
    const s = await newService();
    try {
      const pulling = s.service.pull(`${proxy.server.host}/app:1`).catch((e: unknown) => e);
      await proxy.stalled;
      // The layers that arrived are unpacked while this one is still on its way.
      const others = image.layers.filter((l) => l.digest !== layer.digest).map((l) => l.diffId).sort();
      for (let i = 0; i < 200 && [...s.unpacker.stored].length < others.length; i++) await new Promise((r) => setTimeout(r, 25));
      expect([...s.unpacker.stored].sort()).toEqual(others);
      // Storage got the stalled layer as soon as its download started, to read as it grows.
      expect(s.unpacker.handedOver.find((l) => l.digest === layer.digest)).toMatchObject({ growing: true, size: layer.size });
      await registry.kill();
      proxy.cut();
      const err = await pulling;
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as Error).message).toMatch(new RegExp(`^pull ${proxy.server.host}/app:1: blob sha256:[a-f0-9]{64} from registry ${proxy.server.host}: registry ${proxy.server.host} unreachable`));
      expect(await s.service.list()).toEqual([]);
      // A transient failure keeps what arrived (blobs and unpacked layers) for the retry.
      expect([...s.unpacker.stored].sort()).toEqual(others);
      const partial = (await stat(join(s.root, 'ingest', layer.digest.slice(7)))).size;
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThanOrEqual(300_000);

      await registry.restart();
      const id = await s.service.pull(`${proxy.server.host}/app:1`);
      expect(id).toBe(image.config.digest);
      const resumed = proxy.server.requests.filter((r) => r.url === `/v2/app/blobs/${layer.digest}` && r.headers.range);
      expect(resumed.at(-1)!.headers.range).toBe(`bytes=${partial}-`);
      expect(await s.partials()).toEqual([]);
      expect(await s.blobs()).toHaveLength(2 + image.layers.length);
    } finally {
      proxy.cut(); // a failed expectation before the cut must not leave the stalled response open
      await s.close();
      await proxy.server.close();
      await registry.stop();
    }
  });
});
