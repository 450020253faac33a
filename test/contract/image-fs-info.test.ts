// ImageFsInfo against the api.proto contract: FilesystemUsage with timestamp > 0, the mount
// point of the filesystem, used_bytes and inodes_used for what images take (the content store
// and the unpacked layers), and container_filesystems for the containers' writable layers.
// Real pulls and a real container writing a file of known size move the figures.
import { realpath } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { FilesystemUsage, ImageFsInfoResponse } from '@crius/common/cri';
import { cri } from '../harness/pod.js';
import { BLOB_BYTES, blobBytes, call, imageFsInfo, inodes, knownUnpackedBytes, mountPoints, ok, onlyImage, runSleeper, used, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

/** The longest mount point holding `path`, as FilesystemIdentifier must name. */
async function mountPointHolding(path: string): Promise<string> {
  const real = await realpath(path);
  let best = '/';
  for (const m of await mountPoints()) if ((real === m || real.startsWith(`${m}/`)) && m.length > best.length) best = m;
  return best;
}

function checkUsage(fs: FilesystemUsage[], expectedMountpoint: string, before: bigint) {
  expect(fs.length).toBeGreaterThan(0);
  for (const f of fs) {
    expect(f.timestamp).toBeGreaterThan(0n);
    expect(f.timestamp).toBeGreaterThanOrEqual(before);
    expect(f.usedBytes).toBeDefined(); // set, not merely zero
    expect(f.inodesUsed).toBeDefined();
  }
  expect(new Set(fs.map((f) => f.fsId?.mountpoint)).size).toBe(fs.length); // one entry per filesystem
  expect(fs.map((f) => f.fsId?.mountpoint)).toContain(expectedMountpoint);
}

let empty: ImageFsInfoResponse;

describe('ImageFsInfo', () => {
  it('the request (it has no fields: minimal and full are zero bytes) on an empty store: one usage per filesystem, each complete', async () => {
    const before = BigInt(Date.now() - 1000) * 1_000_000n;
    empty = await imageFsInfo(env.client);
    const mountpoint = await mountPointHolding(env.s.config.state.root);
    checkUsage(empty.imageFilesystems, mountpoint, before);
    checkUsage(empty.containerFilesystems, mountpoint, before);
    const known = await mountPoints();
    for (const f of [...empty.imageFilesystems, ...empty.containerFilesystems]) expect(known.has(f.fsId!.mountpoint), f.fsId!.mountpoint).toBe(true);
  });

  it('grows after a pull by at least the blobs and the unpacked files; the container figure does not', async () => {
    await ok(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:1')));
    const after = await imageFsInfo(env.client);
    const grown = used(after.imageFilesystems) - used(empty.imageFilesystems);
    expect(grown).toBeGreaterThanOrEqual(BigInt(blobBytes(env.numeric) + (await knownUnpackedBytes('numeric'))));
    // busybox with its applets, /etc files, /data/blob and the blobs: well over 20 inodes
    expect(inodes(after.imageFilesystems) - inodes(empty.imageFilesystems)).toBeGreaterThanOrEqual(20n);
    expect(used(after.containerFilesystems) - used(empty.containerFilesystems)).toBeLessThan(BigInt(BLOB_BYTES / 4));
  });

  it('container_filesystems grows by what a container writes, and shrinks when it is removed', async () => {
    const { podId, containerId } = await runSleeper(env, env.ref('contract/numeric:1'), 'writer');
    const before = await imageFsInfo(env.client);
    const r = await cri<{ exitCode: number }>(env.client, 'ExecSync', { containerId, cmd: ['sh', '-c', 'cat /data/blob > /tmp/copy'], timeout: 20 });
    expect(r.exitCode).toBe(0);
    const written = await imageFsInfo(env.client);
    expect(used(written.containerFilesystems) - used(before.containerFilesystems)).toBeGreaterThanOrEqual(BigInt(BLOB_BYTES));
    expect(inodes(written.containerFilesystems) - inodes(before.containerFilesystems)).toBeGreaterThanOrEqual(1n);
    // The write is the container's, not the image's.
    const imageDelta = used(written.imageFilesystems) - used(before.imageFilesystems);
    expect(imageDelta < BigInt(BLOB_BYTES / 4) && imageDelta > -BigInt(BLOB_BYTES / 4)).toBe(true);
    await cri(env.client, 'StopContainer', { containerId, timeout: 0 });
    await cri(env.client, 'RemoveContainer', { containerId });
    await cri(env.client, 'RemovePodSandbox', { podSandboxId: podId });
    const removed = await imageFsInfo(env.client);
    expect(used(written.containerFilesystems) - used(removed.containerFilesystems)).toBeGreaterThanOrEqual(BigInt(BLOB_BYTES));
  });

  it('shrinks after RemoveImage back to what it was before the pull', async () => {
    const pulled = await imageFsInfo(env.client);
    expect((await call(env.client, 'RemoveImage', onlyImage(env.ref('contract/numeric:1')))).ok).toBe(true);
    const after = await imageFsInfo(env.client);
    expect(used(pulled.imageFilesystems) - used(after.imageFilesystems)).toBeGreaterThanOrEqual(BigInt(blobBytes(env.numeric) + (await knownUnpackedBytes('numeric'))));
    expect(used(after.imageFilesystems)).toBeLessThanOrEqual(used(empty.imageFilesystems) + 64n * 1024n); // the index file may keep a block
    expect(inodes(after.imageFilesystems)).toBeLessThanOrEqual(inodes(empty.imageFilesystems) + 2n);
  });
});
