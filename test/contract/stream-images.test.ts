// StreamImages against the api.proto contract: results "in lists of at least one item", each item
// "in exactly one response", not duplicated, and the stream closed with OK after the last one;
// the same images (and filter) as ListImages.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { StreamImagesRequest, type Image } from '@crius/common/cri';
import { listImages, ok, onlyImage, pb, stream, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

const streamImages = (body: Buffer) => stream<{ images: Image[] }>(env.client, 'StreamImages', body);

describe('StreamImages', () => {
  it('minimal request (zero bytes) on an empty store: no message, then OK', async () => {
    const r = await streamImages(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    expect(r.messages).toEqual([]);
  });

  it('minimal request: every image exactly once, in non-empty lists, as ListImages has them', async () => {
    for (const ref of ['contract/numeric:1', 'contract/named:1']) await ok(env.client, 'PullImage', onlyImage(env.ref(ref)));
    const r = await streamImages(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    expect(r.messages.length).toBeGreaterThan(0);
    for (const m of r.messages) expect(m.images.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.images);
    expect(new Set(streamed.map((i) => i.id)).size).toBe(streamed.length);
    const byId = (a: Image, b: Image) => a.id.localeCompare(b.id);
    expect(streamed.sort(byId)).toEqual((await listImages(env.client)).sort(byId));
  });

  it('a filter (minimal or with every ImageSpec field) streams only the image it names', async () => {
    const minimal = await streamImages(pb.msg(1, onlyImage(env.ref('contract/named:1'))));
    expect(minimal.messages.flatMap((m) => m.images).map((i) => i.id)).toEqual([env.named.config.digest]);
    const full = StreamImagesRequest.encode(StreamImagesRequest.fromPartial({
      filter: { image: { image: env.ref('contract/numeric:1'), annotations: { a: 'b' }, userSpecifiedImage: 'x', runtimeHandler: 'runc', imageRef: env.numeric.config.digest } },
    })).finish();
    const r = await streamImages(Buffer.from(full));
    expect(r.code).toBe(status.OK);
    expect(r.messages.flatMap((m) => m.images).map((i) => i.id)).toEqual([env.numeric.config.digest]);
    const none = await streamImages(pb.msg(1, onlyImage(env.ref('contract/named:404'))));
    expect(none).toMatchObject({ code: status.OK, messages: [] });
  });

  it('an unknown runtime handler in the filter ends the stream with INVALID_ARGUMENT', async () => {
    const r = await streamImages(pb.msg(1, pb.msg(1, pb.str(19, 'no-such-handler'))));
    expect(r.code).toBe(status.INVALID_ARGUMENT);
    expect(r.details).toContain('"no-such-handler"');
    expect(r.messages).toEqual([]);
  });
});
