// PullImage against the api.proto contract: image_ref is the value Image.id (and the container
// image_id fields) carry for the same image; AuthConfig authenticates to the registry; an
// ImageSpec with an unknown runtime handler "should be rejected". A real registry with htpasswd
// auth serves the full-request case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ImageStatusResponse } from '@crius/common/cri';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { failure, listImages, ok, onlyImage, pb, useContractEnv, type ContractEnv } from './helpers.js';

let env: ContractEnv;
useContractEnv((e) => (env = e));

const creds = { username: 'kubelet', password: 'contract-s3cret' };
let authReg: RunningRegistry;
let privateImage: OciImage;
beforeAll(async () => {
  authReg = await startRegistry({ auth: creds });
  privateImage = await buildImage({ user: '7', labels: { private: 'yes' } });
  await pushImage(authReg.url, 'private/app', '2', privateImage, { auth: creds });
});
afterAll(async () => {
  await authReg?.stop();
});

const imageRef = (r: { imageRef: string }) => r.imageRef;
const statusOf = async (name: string) => (await ok<ImageStatusResponse>(env.client, 'ImageStatus', onlyImage(name))).image;

describe('PullImage', () => {
  it('minimal request (only image.image): image_ref is the image ID that ListImages and ImageStatus report', async () => {
    const ref = await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:1'))).then(imageRef);
    expect(ref).toBe(env.numeric.config.digest);
    const img = await statusOf(env.ref('contract/numeric:1'));
    expect(img?.id).toBe(ref);
    expect((await listImages(env.client)).map((i) => i.id)).toEqual([ref]);
    expect(img?.repoTags).toEqual([env.ref('contract/numeric:1')]);
    expect(img?.repoDigests).toEqual([`${env.ref('contract/numeric')}@${env.digests.numeric}`]);
  });

  it('pulling the same image again returns the same image_ref and duplicates no name', async () => {
    const again = await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:1'))).then(imageRef);
    expect(again).toBe(env.numeric.config.digest);
    const [img] = await listImages(env.client);
    expect(img!.repoTags).toEqual([env.ref('contract/numeric:1')]);
    expect(img!.repoDigests).toHaveLength(1);
  });

  it('by digest: the image is known by that repo digest and has no tag', async () => {
    const byDigest = `${env.ref('contract/named')}@${env.digests.named}`;
    const ref = await ok<{ imageRef: string }>(env.client, 'PullImage', onlyImage(byDigest)).then(imageRef);
    expect(ref).toBe(env.named.config.digest);
    const img = await statusOf(byDigest);
    expect(img?.id).toBe(ref);
    expect(img?.repoDigests).toEqual([byDigest]);
    expect(img?.repoTags).toEqual([]);
  });

  it('full request (every ImageSpec field, auth, sandbox_config) against a registry that needs credentials', async () => {
    const image = `${authReg.host}/private/app:2`;
    const r = await ok<{ imageRef: string }>(env.client, 'PullImage', {
      image: {
        image,
        annotations: { 'io.kubernetes.cri.image-annotation': 'x' },
        userSpecifiedImage: image,
        runtimeHandler: 'runc',
        imageRef: privateImage.config.digest,
      },
      auth: {
        username: creds.username,
        password: creds.password,
        auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64'),
        serverAddress: authReg.host,
      },
      sandboxConfig: {
        metadata: { name: 'puller', uid: 'uid-pull-1', namespace: 'contract', attempt: 1 },
        hostname: 'puller',
        logDirectory: '/var/log/pods/contract_puller_uid-pull-1',
        dnsConfig: { servers: ['10.96.0.10'], searches: ['contract.svc.cluster.local'], options: ['ndots:5'] },
        portMappings: [{ protocol: 0, containerPort: 80, hostPort: 0, hostIp: '' }],
        labels: { app: 'puller' },
        annotations: { 'kubernetes.io/config.source': 'api' },
        linux: { cgroupParent: '/kubepods/besteffort/poduid-pull-1', securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } }, sysctls: {} },
      },
    });
    expect(r.imageRef).toBe(privateImage.config.digest);
    const img = await statusOf(image);
    expect(img?.id).toBe(r.imageRef);
    expect(img?.uid).toEqual({ value: 7n });
  });

  it('a registry that needs credentials, pulled without them or with wrong ones: refused, the secret never echoed', async () => {
    const image = `${authReg.host}/private/app:2`;
    await ok(env.client, 'RemoveImage', onlyImage(image));
    const anonymous = await failure(env.client, 'PullImage', onlyImage(image));
    expect(anonymous.code).toBe(status.FAILED_PRECONDITION);
    expect(anonymous.details).toContain('requires credentials');
    const wrong = await failure(env.client, 'PullImage', { image: { image }, auth: { username: creds.username, password: 'not-the-secret' } });
    expect(wrong.code).toBe(status.FAILED_PRECONDITION);
    expect(wrong.details).not.toContain('not-the-secret');
    expect(await statusOf(image)).toBeUndefined();
  });

  it('no image, an empty name, or a malformed reference: INVALID_ARGUMENT', async () => {
    for (const body of [Buffer.alloc(0), pb.msg(1), onlyImage('')]) {
      const f = await failure(env.client, 'PullImage', body);
      expect(f.code).toBe(status.INVALID_ARGUMENT);
      expect(f.details).toContain('image.image is required');
    }
    for (const bad of ['UPPER/Case::bad', `${env.reg.host}/x@sha256:short`, ' ']) {
      expect((await failure(env.client, 'PullImage', onlyImage(bad))).code, bad).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('a tag the registry does not have: NOT_FOUND naming the image', async () => {
    const f = await failure(env.client, 'PullImage', onlyImage(env.ref('contract/numeric:no-such-tag')));
    expect(f.code).toBe(status.NOT_FOUND);
    expect(f.details).toContain(env.ref('contract/numeric:no-such-tag'));
  });

  it('an unknown runtime handler is rejected before the registry is asked anything', async () => {
    env.reg.clearLog();
    const f = await failure(env.client, 'PullImage', { image: { image: env.ref('contract/named:1'), runtimeHandler: 'no-such-handler' } });
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('"no-such-handler"');
    expect(env.reg.accessLog()).toEqual([]);
    expect(await statusOf(env.ref('contract/named:1'))).toBeUndefined();
  });
});
