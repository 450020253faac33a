// Image import through the whole stack: the launcher bus user (what the crius
// CLI connects as) sends ImportImage with a layout tar the demo writer made;
// image-svc stores it, storage-svc unpacks the layer, and the gateway's CRI
// ListImages / ImageStatus show the image under its tag.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import { BusClient, NotFoundError, connectBus, credentialsDir } from '@crius/common';
import { ImportImageRequest, ImportImageResponse } from '@crius/common/proto/image';
import { PullImageRequest, PullImageResponse } from '@crius/common/cri';
import { DEMO_REF, buildBusyboxLayout, type BuiltLayout } from '../../services/image-svc/src/oci-layout-writer.js';
import { callCri, rawClient } from '../harness/raw-cri.js';
import { startStack, type TestStack } from '../harness/stack.js';

let s: TestStack;
let nc: NatsConnection;
let bus: BusClient;
let client: Client;
let built: BuiltLayout;
let archive: string;

beforeAll(async () => {
  // The last test checks the launcher is refused PullImage: the one refusal this stack may log.
  s = await startStack('', { expectedRefusals: [/bus user launcher, Subject "crius\.v1\.image\.PullImage"$/] });
  client = rawClient(s.config.api.listen);
  nc = await connectBus({ address: s.config.bus.address, user: 'launcher', credentialsDir: credentialsDir(s.config), reconnect: false });
  bus = new BusClient(nc);
  archive = path.join(s.dir, 'demo.tar');
  built = await buildBusyboxLayout(archive);
});
afterAll(async () => {
  await nc?.close();
  client?.close();
  await s?.stop();
});

describe('ImportImage on the bus', () => {
  it('imports the demo layout as the launcher user', async () => {
    const res = await bus.call('image', 'ImportImage', ImportImageRequest, ImportImageResponse, { path: archive, name: '' }, { deadline: Date.now() + 60_000 });
    expect(res.images).toEqual([{ imageId: built.imageId, repoTags: [DEMO_REF] }]);
  });

  it('shows the image through the gateway under its tag, with no repo digests', async () => {
    const list = await callCri(client, 'ListImages', {});
    if (!list.ok) throw list.error;
    const images = (list.reply as { images: { id: string; repoTags: string[]; repoDigests: string[] }[] }).images;
    expect(images).toEqual([expect.objectContaining({ id: built.imageId, repoTags: [DEMO_REF], repoDigests: [] })]);
    const st = await callCri(client, 'ImageStatus', { image: { image: DEMO_REF } });
    if (!st.ok) throw st.error;
    expect((st.reply as { image?: { id: string } }).image?.id).toBe(built.imageId);
  });

  it('had storage-svc unpack its one layer', async () => {
    const layers = await readdir(path.join(s.config.state.root, 'storage', 'layers'));
    expect(layers.filter((l) => /^[0-9a-f]{64}$/.test(l))).toHaveLength(1);
  });

  it('reports a missing file as NOT_FOUND naming it', async () => {
    const missing = path.join(s.dir, 'absent.tar');
    const err = await bus.call('image', 'ImportImage', ImportImageRequest, ImportImageResponse, { path: missing, name: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(missing);
  });

  it('still refuses the launcher any other image-svc method', async () => {
    const pull = bus.call('image', 'PullImage', PullImageRequest, PullImageResponse, PullImageRequest.fromPartial({ image: { image: DEMO_REF } }), { deadline: Date.now() + 2000 });
    await expect(pull).rejects.toThrow('bus permission denied: this bus user may not call image-svc PullImage');
  });
});
