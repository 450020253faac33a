// A real registry behind htpasswd basic auth: pulls work with CRI
// credentials in either form and fail clearly (without leaking them) otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

const creds = { username: 'kube', password: 'pa55-w0rd' };
let registry: RunningRegistry;
let image: OciImage;

beforeAll(async () => {
  registry = await startRegistry({ auth: creds });
  image = await buildImage();
  await pushImage(registry.url, 'private/app', '1', image, { auth: creds });
});

afterAll(async () => {
  await registry?.stop();
});

describe('basic-auth registry', () => {
  it('pulls with username/password and with the base64 auth field', async () => {
    const s = await newService();
    try {
      expect(await s.service.pull(`${registry.host}/private/app:1`, { ...creds })).toBe(image.config.digest);
      await s.service.remove(image.config.digest);
      const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      expect(await s.service.pull(`${registry.host}/private/app:1`, { auth, serverAddress: registry.host })).toBe(image.config.digest);
      expect(await s.blobs()).toHaveLength(2 + image.layers.length);
    } finally {
      await s.close();
    }
  });

  it('fails clearly without credentials or with wrong ones, never echoing them', async () => {
    const s = await newService();
    try {
      const anonymous = await s.service.pull(`${registry.host}/private/app:1`).catch((e: unknown) => e);
      expect(anonymous).toBeInstanceOf(FailedPreconditionError);
      expect((anonymous as Error).message).toBe(
        `pull ${registry.host}/private/app:1: manifest 1 from registry ${registry.host}: registry ${registry.host} requires credentials (basic auth) and none were given`,
      );
      const wrong = await s.service.pull(`${registry.host}/private/app:1`, { username: 'kube', password: 'not-the-secret' }).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(FailedPreconditionError);
      expect((wrong as Error).message).toMatch(/HTTP 401 UNAUTHORIZED: authentication required: credentials rejected$/);
      expect((wrong as Error).message).not.toContain('not-the-secret');
      // Credentials meant for another registry are not sent here.
      const elsewhere = await s.service.pull(`${registry.host}/private/app:1`, { ...creds, serverAddress: 'https://index.docker.io/v1/' }).catch((e: unknown) => e);
      expect((elsewhere as Error).message).toMatch(/none were given/);
      expect(await s.blobs()).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
