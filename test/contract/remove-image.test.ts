// RemoveImage against the api.proto contract: idempotent ("must not return an error if the image
// has already been removed"); removing by a single tag removes all of its tags, even across
// repositories; "the next call to ListImages, ImageStatus, ImageFsInfo will not return this
// image". A container made from the image keeps running, as with containerd, and its layers go
// once the container does.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ImageStatusResponse } from '@crius/common/cri';
import { cri } from '../harness/pod.js';
import { blobBytes, failure, imageFsInfo, knownUnpackedBytes, listImages, ok, onlyImage, pb, runSleeper, used, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

const pull = async (ref: string) => (await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(ref))).imageRef;
const present = async (name: string) => (await ok<ImageStatusResponse>(env.client, 'ImageStatus', onlyImage(name))).image !== undefined;
const layerDirs = async () => (await readdir(path.join(env.s.config.state.root, 'storage', 'layers'))).filter((l) => /^[0-9a-f]{64}$/.test(l)).sort();
const hex = (diffId: string) => diffId.slice('sha256:'.length);

describe('RemoveImage', () => {
  it('minimal request (only image.image, one tag): every tag goes, across repositories, and nothing is left', async () => {
    const baseline = used((await imageFsInfo(env.client)).imageFilesystems);
    const id = await pull(env.ref('contract/numeric:1'));
    expect(await pull(env.ref('another/numeric:latest'))).toBe(id); // the same image under another repository
    const [img] = await listImages(env.client);
    expect(img!.repoTags.sort()).toEqual([env.ref('another/numeric:latest'), env.ref('contract/numeric:1')]);
    expect(img!.repoDigests).toHaveLength(2);
    const pulled = used((await imageFsInfo(env.client)).imageFilesystems);

    const r = await ok(env.client, 'RemoveImage', onlyImage(env.ref('contract/numeric:1')));
    expect(r).toEqual({});
    expect(await listImages(env.client)).toEqual([]);
    for (const name of [env.ref('contract/numeric:1'), env.ref('another/numeric:latest'), id, ...img!.repoDigests]) expect(await present(name), name).toBe(false);
    expect(await layerDirs()).toEqual([]);
    const after = used((await imageFsInfo(env.client)).imageFilesystems);
    expect(pulled - after).toBeGreaterThanOrEqual(BigInt(blobBytes(env.numeric) + (await knownUnpackedBytes('numeric'))));
    expect(after).toBeLessThanOrEqual(baseline + 64n * 1024n); // the index file may have grown a block
  });

  it('is idempotent: the image already removed, or never here, is OK', async () => {
    for (const name of [env.ref('contract/numeric:1'), env.ref('never/pulled:1'), `sha256:${'0'.repeat(64)}`, 'UPPER/Case::bad']) {
      expect(await ok(env.client, 'RemoveImage', onlyImage(name)), name).toEqual({});
    }
  });

  it('by image ID and by repo digest', async () => {
    const id = await pull(env.ref('contract/numeric:1'));
    await ok(env.client, 'RemoveImage', onlyImage(id));
    expect(await present(env.ref('contract/numeric:1'))).toBe(false);
    await pull(env.ref('contract/numeric:1'));
    await ok(env.client, 'RemoveImage', onlyImage(`${env.ref('contract/numeric')}@${env.digests.numeric}`));
    expect(await listImages(env.client)).toEqual([]);
  });

  it('only the named image goes; layers it shares with another image stay for that one', async () => {
    const numeric = await pull(env.ref('contract/numeric:1'));
    const named = await pull(env.ref('contract/named:1'));
    await ok(env.client, 'RemoveImage', onlyImage(numeric));
    expect((await listImages(env.client)).map((i) => i.id)).toEqual([named]);
    expect(await layerDirs()).toEqual(env.named.layers.map((l) => hex(l.diffId)).sort());
    await ok(env.client, 'RemoveImage', onlyImage(named));
    expect(await layerDirs()).toEqual([]);
  });

  it('full request (annotations, user_specified_image, runtime_handler, image_ref) removes it too', async () => {
    const id = await pull(env.ref('contract/named:1'));
    const r = await ok(env.client, 'RemoveImage', {
      image: { image: env.ref('contract/named:1'), annotations: { a: 'b' }, userSpecifiedImage: env.ref('contract/named:1'), runtimeHandler: 'runc', imageRef: id },
    });
    expect(r).toEqual({});
    expect(await present(id)).toBe(false);
  });

  it('no image, or an empty name: INVALID_ARGUMENT', async () => {
    for (const body of [Buffer.alloc(0), pb.msg(1), onlyImage('')]) {
      const f = await failure(env.client, 'RemoveImage', body);
      expect(f.code).toBe(status.INVALID_ARGUMENT);
      expect(f.details).toContain('image.image is required');
    }
  });

  it('an unknown runtime handler is rejected and the image stays', async () => {
    const id = await pull(env.ref('contract/named:1'));
    const f = await failure(env.client, 'RemoveImage', { image: { image: id, runtimeHandler: 'no-such-handler' } });
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('"no-such-handler"');
    expect(await present(id)).toBe(true);
    await ok(env.client, 'RemoveImage', onlyImage(id));
  });

  it('an image a running container uses: removed at once, the container keeps its files, its layers go with it', async () => {
    const id = await pull(env.ref('contract/numeric:1'));
    const { podId, containerId } = await runSleeper(env, env.ref('contract/numeric:1'), 'user');
    expect(await ok(env.client, 'RemoveImage', onlyImage(env.ref('contract/numeric:1')))).toEqual({});
    expect(await listImages(env.client)).toEqual([]);
    expect(await present(id)).toBe(false);
    // The container still runs on its layers.
    const r = await cri<{ exitCode: number; stdout: Uint8Array }>(env.client, 'ExecSync', { containerId, cmd: ['sh', '-c', 'wc -c < /data/blob'], timeout: 10 });
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).toString().trim()).toBe(String(1 << 20));
    expect(await layerDirs()).toEqual(env.numeric.layers.map((l) => hex(l.diffId)).sort());
    const whileUsed = used((await imageFsInfo(env.client)).imageFilesystems);
    await cri(env.client, 'StopContainer', { containerId, timeout: 0 });
    await cri(env.client, 'RemoveContainer', { containerId });
    await cri(env.client, 'RemovePodSandbox', { podSandboxId: podId });
    // RemoveContainer returns after the rootfs and its now unneeded layers are gone.
    expect(await layerDirs()).toEqual([]);
    const after = used((await imageFsInfo(env.client)).imageFilesystems);
    expect(whileUsed - after).toBeGreaterThanOrEqual(BigInt(await knownUnpackedBytes('numeric')));
    // And the image can be pulled again.
    expect(await pull(env.ref('contract/numeric:1'))).toBe(id);
  });
});
