// ImageStatus against the api.proto contract: "If the image is not present, returns a response
// with ImageStatusResponse.Image set to nil"; `info` "should only be returned non-empty when
// Verbose is true"; Image.id matches PullImageResponse.image_ref, size > 0, uid and username
// are mutually exclusive and come from the image config; spec carries the annotations.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ImageStatusResponse } from '@crius/common/cri';
import { ANNOTATIONS, blobBytes, call, failure, ok, onlyImage, pb, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

let numericId: string;
let namedId: string;

const statusOf = (body: Buffer | object) => ok<ImageStatusResponse>(env.client, 'ImageStatus', body);

describe('ImageStatus', () => {
  it('minimal request (only image.image, a tag): the whole Image, no info', async () => {
    numericId = (await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:1')))).imageRef;
    namedId = (await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/named:1')))).imageRef;
    const r = await statusOf(onlyImage(env.ref('contract/numeric:1')));
    expect(r.info).toEqual({});
    const img = r.image!;
    expect(img.id).toBe(numericId);
    expect(img.id).toBe(env.numeric.config.digest);
    expect(img.repoTags).toEqual([env.ref('contract/numeric:1')]);
    expect(img.repoDigests).toEqual([`${env.ref('contract/numeric')}@${env.digests.numeric}`]);
    expect(img.size).toBe(BigInt(blobBytes(env.numeric)));
    expect(img.uid).toEqual({ value: 1000n }); // USER 1000:1000: the uid, not the group
    expect(img.username).toBe('');
    expect(img.spec?.annotations).toEqual(ANNOTATIONS);
    expect(img.pinned).toBe(false);
  });

  it('a user name in the config is username, with uid unset', async () => {
    const img = (await statusOf(onlyImage(env.ref('contract/named:1')))).image!;
    expect(img.id).toBe(namedId);
    expect(img.uid).toBeUndefined();
    expect(img.username).toBe('app');
    expect(img.size).toBeGreaterThan(0n);
  });

  it('finds the same image by ID, ID without prefix, and repo digest', async () => {
    for (const name of [numericId, numericId.slice('sha256:'.length), `${env.ref('contract/numeric')}@${env.digests.numeric}`]) {
      expect((await statusOf(onlyImage(name))).image?.id, name).toBe(numericId);
    }
  });

  it('full request (verbose, annotations, user_specified_image, runtime_handler, image_ref): info is JSON with the image config', async () => {
    const r = await statusOf({
      image: {
        image: env.ref('contract/numeric:1'),
        annotations: { 'kubernetes.io/runtime-class': 'runc' },
        userSpecifiedImage: env.ref('contract/numeric:1'),
        runtimeHandler: 'runc',
        imageRef: numericId,
      },
      verbose: true,
    });
    expect(r.image?.id).toBe(numericId);
    const keys = Object.keys(r.info);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(() => JSON.parse(r.info[k]!), k).not.toThrow(); // "value should be in json format"
    const info = JSON.parse(r.info.info!) as { imageSpec: { config: { User: string }; rootfs: { diff_ids: string[] } } };
    expect(info.imageSpec.config.User).toBe('1000:1000');
    expect(info.imageSpec.rootfs.diff_ids).toEqual(env.numeric.layers.map((l) => l.diffId));
  });

  it('an image that is not present: image unset and no error', async () => {
    for (const name of [env.ref('contract/numeric:2'), env.ref('nothing/here:1'), `sha256:${'0'.repeat(64)}`]) {
      const r = await statusOf(onlyImage(name));
      expect(r.image, name).toBeUndefined();
      expect(r.info).toEqual({});
    }
    // Verbose does not invent info for an absent image.
    expect((await statusOf(Buffer.concat([onlyImage(env.ref('nothing/here:1')), pb.bool(2, true)]))).info).toEqual({});
  });

  it('a malformed reference cannot name a present image: image unset, as containerd answers', async () => {
    const r = await statusOf(onlyImage('UPPER/Case::bad'));
    expect(r.image).toBeUndefined();
  });

  it('no image, or an empty image name: INVALID_ARGUMENT', async () => {
    for (const body of [Buffer.alloc(0), pb.msg(1), onlyImage(''), pb.bool(2, true)]) {
      const f = await failure(env.client, 'ImageStatus', body);
      expect(f.code).toBe(status.INVALID_ARGUMENT);
      expect(f.details).toContain('image.image is required');
    }
  });

  it('an unknown runtime handler is rejected with INVALID_ARGUMENT naming it', async () => {
    const f = await failure(env.client, 'ImageStatus', { image: { image: env.ref('contract/numeric:1'), runtimeHandler: 'no-such-handler' } });
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('"no-such-handler"');
    // The empty handler is the default one.
    expect((await call(env.client, 'ImageStatus', { image: { image: env.ref('contract/numeric:1'), runtimeHandler: '' } })).ok).toBe(true);
  });
});
