// ListImages against the api.proto contract: with no filter every image, each with the id
// PullImage returned (`Image.id` MUST match PullImageResponse.image_ref), its names, size > 0,
// uid or username from the config, spec with annotations; a filter narrows to the image it
// names; an ImageSpec with an unknown runtime handler "should be rejected".
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { Image } from '@crius/common/cri';
import { ANNOTATIONS, blobBytes, failure, ok, onlyImage, pb, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

const list = (body: Buffer | object) => ok<{ images: Image[] }>(env.client, 'ListImages', body).then((r) => r.images);
let numericId: string;
let namedId: string;

describe('ListImages', () => {
  it('minimal request (no filter, zero bytes) on an empty store: no images, no error', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  it('minimal request: every pulled image, described as the comments promise', async () => {
    numericId = (await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:1')))).imageRef;
    namedId = (await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/named:1')))).imageRef;
    const images = await list(Buffer.alloc(0));
    expect(images.map((i) => i.id).sort()).toEqual([numericId, namedId].sort());
    const numeric = images.find((i) => i.id === numericId)!;
    expect(numeric).toMatchObject({
      repoTags: [env.ref('contract/numeric:1')],
      repoDigests: [`${env.ref('contract/numeric')}@${env.digests.numeric}`],
      size: BigInt(blobBytes(env.numeric)),
      uid: { value: 1000n },
      username: '',
      pinned: false,
    });
    expect(numeric.spec?.annotations).toEqual(ANNOTATIONS);
    const named = images.find((i) => i.id === namedId)!;
    expect(named.uid).toBeUndefined();
    expect(named.username).toBe('app');
    expect(named.size).toBeGreaterThan(0n);
  });

  it('a filter (only filter.image.image) returns just the image it names, by tag, ID or repo digest', async () => {
    for (const name of [env.ref('contract/named:1'), namedId, `${env.ref('contract/named')}@${env.digests.named}`]) {
      expect((await list(pb.msg(1, onlyImage(name)))).map((i) => i.id), name).toEqual([namedId]);
    }
    expect(await list(pb.msg(1, onlyImage(env.ref('contract/named:2'))))).toEqual([]);
  });

  it('full request (filter with every ImageSpec field) narrows the same way', async () => {
    const images = await list({
      filter: {
        image: {
          image: env.ref('contract/numeric:1'),
          annotations: { a: 'b' },
          userSpecifiedImage: env.ref('contract/numeric:1'),
          runtimeHandler: 'runc',
          imageRef: numericId,
        },
      },
    });
    expect(images.map((i) => i.id)).toEqual([numericId]);
  });

  it('an empty filter (filter set, image empty) is no filter', async () => {
    expect(await list(pb.msg(1))).toHaveLength(2);
    expect(await list(pb.msg(1, pb.msg(1)))).toHaveLength(2);
  });

  it('an unknown runtime handler in the filter is rejected with INVALID_ARGUMENT', async () => {
    const f = await failure(env.client, 'ListImages', { filter: { image: { image: '', runtimeHandler: 'no-such-handler' } } });
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('"no-such-handler"');
  });
});
