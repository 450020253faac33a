// [image] signature_policy (containers-policy.json(5)) against a real registry:
// cosign signatures made by the test itself with keys from node:crypto, found by
// the sha256-<digest>.sig tag and as OCI referrers; refusals name the scope and
// rule and leave nothing behind (no blob, no layer, no index entry).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import {
  generateKeys, payloadFor, pushSignatureReferrer, pushSignatureTag, referrersTag, signImage, signPayload, type KeyPair,
} from '../fixtures/cosign.js';
import { startServer, type LoopbackServer } from '../fixtures/http-server.js';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService, type TestService } from './helpers.js';

let registry: RunningRegistry;
let dir: string;
let key: KeyPair;
let otherKey: KeyPair;
let keyPath: string;
const images: Record<string, OciImage> = {};

/** Pushes a fresh image as repo:1; returns it. */
async function push(repo: string, note: string): Promise<OciImage> {
  const image = await buildImage({ cmd: ['echo', note] });
  await pushImage(registry.url, repo, '1', image);
  images[repo] = image;
  return image;
}

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'crius-sigpolicy-'));
  key = generateKeys('ec');
  otherKey = generateKeys('ec');
  keyPath = join(dir, 'cosign.pub');
  await writeFile(keyPath, key.publicPem);
  const h = registry.host;
  const good = await push('signed/app', 'good');
  await pushSignatureTag(registry.url, 'signed/app', good.manifest.digest, [signImage(good.manifest.digest, `${h}/signed/app:1`, key.privateKey)]);
  await push('signed/unsigned', 'unsigned');
  const wrongKey = await push('signed/wrongkey', 'wrong key');
  await pushSignatureTag(registry.url, 'signed/wrongkey', wrongKey.manifest.digest, [signImage(wrongKey.manifest.digest, `${h}/signed/wrongkey:1`, otherKey.privateKey)]);
  // The tag now points at another image, and the old image's signature was copied beside it.
  const tampered = await push('signed/tampered', 'replaced');
  await pushSignatureTag(registry.url, 'signed/tampered', tampered.manifest.digest, [signImage(good.manifest.digest, `${h}/signed/tampered:1`, key.privateKey)]);
  const elsewhere = await push('signed/identity', 'identity');
  await pushSignatureTag(registry.url, 'signed/identity', elsewhere.manifest.digest, [signImage(elsewhere.manifest.digest, `${h}/signed/other:1`, key.privateKey)]);
  const repoOnly = await push('signed/cosign-style', 'repo only');
  await pushSignatureTag(registry.url, 'signed/cosign-style', repoOnly.manifest.digest, [signPayload(payloadFor(repoOnly.manifest.digest, `${h}/signed/cosign-style`), key.privateKey)]);
  const referred = await push('signed/referrer', 'referrer');
  await pushSignatureReferrer(registry.url, 'signed/referrer', descriptorOf(referred), [signImage(referred.manifest.digest, `${h}/signed/referrer:1`, key.privateKey)]);
  await push('open/app', 'open');
  await push('other/app', 'out of every scope');
});

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

function descriptorOf(image: OciImage) {
  return { mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size };
}

let policies = 0;
async function withPolicy(policy: unknown, fn: (s: TestService, file: string) => Promise<void>): Promise<void> {
  const file = join(dir, `policy-${++policies}.json`);
  await writeFile(file, JSON.stringify(policy));
  const s = await newService({ signaturePolicy: file });
  try {
    await fn(s, file);
  } finally {
    await s.close();
  }
}

const signedScope = () => ({
  default: [{ type: 'reject' }],
  transports: { docker: { [`${registry.host}/signed`]: [{ type: 'sigstoreSigned', keyPath }], [`${registry.host}/open`]: [{ type: 'insecureAcceptAnything' }] } },
});

async function expectRefused(s: TestService, name: string, message: string | RegExp): Promise<void> {
  const unpacks = s.unpacker.calls.length;
  const err = await s.service.pull(`${registry.host}/${name}:1`).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(FailedPreconditionError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
  // Nothing of the refused image stays: no blob, no partial download, no layer, no record.
  expect(await s.blobs()).toEqual([]);
  expect(await s.partials()).toEqual([]);
  expect(s.unpacker.calls.slice(unpacks)).toEqual([]);
  expect(await s.service.list()).toEqual([]);
}

describe('sigstoreSigned with a public key', () => {
  it('accepts an image signed with the policy key under the .sig tag', async () => {
    await withPolicy(signedScope(), async (s) => {
      expect(await s.service.pull(`${registry.host}/signed/app:1`)).toBe(images['signed/app']!.config.digest);
      expect(await s.blobs()).toHaveLength(2 + images['signed/app']!.layers.length);
    });
  });

  it('refuses an unsigned image, naming the file, scope and rule', async () => {
    await withPolicy(signedScope(), async (s, file) => {
      const digest = images['signed/unsigned']!.manifest.digest;
      await expectRefused(s, 'signed/unsigned',
        `pull ${registry.host}/signed/unsigned:1: refused by signature policy ${file}: docker scope "${registry.host}/signed" requirement #1 (sigstoreSigned): no cosign signature of ${digest} found (sha256-….sig tag, referrers)`);
    });
  });

  it('refuses a signature by another key', async () => {
    await withPolicy(signedScope(), async (s) => {
      await expectRefused(s, 'signed/wrongkey', new RegExp(`requirement #1 \\(sigstoreSigned\\): none of 1 signature\\(s\\) is accepted: tag sha256-.*layer 1: not signed by the policy's key \\(keyPath ${keyPath}\\)$`));
    });
  });

  it('refuses a signature whose payload names another manifest (tag moved to a tampered image)', async () => {
    await withPolicy(signedScope(), async (s) => {
      const pulled = images['signed/tampered']!.manifest.digest;
      await expectRefused(s, 'signed/tampered', new RegExp(`it signs manifest ${images['signed/app']!.manifest.digest}, not the pulled ${pulled}$`));
    });
  });

  it('refuses a signature claiming another identity, unless signedIdentity allows it', async () => {
    await withPolicy(signedScope(), async (s) => {
      await expectRefused(s, 'signed/identity',
        new RegExp(`it claims identity "${registry.host}/signed/other:1", which signedIdentity matchRepoDigestOrExact does not accept for ${registry.host}/signed/identity:1$`));
      // cosign's own payloads name only the repository: the default refuses them too.
      await expectRefused(s, 'signed/cosign-style', /which signedIdentity matchRepoDigestOrExact does not accept/);
    });
    const matchRepository = {
      default: [{ type: 'reject' }],
      transports: { docker: { [`${registry.host}/signed/cosign-style`]: [{ type: 'sigstoreSigned', keyPath, signedIdentity: { type: 'matchRepository' } }] } },
    };
    await withPolicy(matchRepository, async (s) => {
      expect(await s.service.pull(`${registry.host}/signed/cosign-style:1`)).toBe(images['signed/cosign-style']!.config.digest);
    });
  });

  it('finds a signature stored as an OCI referrer through the fallback tag of a registry without the referrers API', async () => {
    await withPolicy(signedScope(), async (s) => {
      registry.clearLog();
      expect(await s.service.pull(`${registry.host}/signed/referrer:1`)).toBe(images['signed/referrer']!.config.digest);
      const digest = images['signed/referrer']!.manifest.digest;
      const paths = registry.accessLog().map((e) => `${e.path} ${e.status}`);
      expect(paths).toContain(`/v2/signed/referrer/referrers/${digest} 404`);
      expect(paths).toContain(`/v2/signed/referrer/manifests/${referrersTag(digest)} 200`);
    });
  });
});

describe('a registry with the referrers API', () => {
  let proxy: LoopbackServer | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('is asked for referrers first; the fallback tag is not needed', async () => {
    const image = await push('signed/api', 'api');
    const fallbackPath = `/v2/signed/api/manifests/${referrersTag(image.manifest.digest)}`;
    const referrersPath = `/v2/signed/api/referrers/${image.manifest.digest}`;
    let served: Buffer = Buffer.alloc(0);
    // The proxy answers the referrers API itself and hides the fallback tag; the rest is the real registry.
    proxy = await startServer((req, res) => {
      if (req.url === referrersPath) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': served.length });
        return res.end(served);
      }
      if (req.url === fallbackPath) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no fallback here"}]}');
      }
      const up = httpRequest(`${registry.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: registry.host } }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    });
    // The payload names the proxy's host: that is the name pulled.
    served = (await pushSignatureReferrer(registry.url, 'signed/api', descriptorOf(image), [signImage(image.manifest.digest, `${proxy.host}/signed/api:1`, key.privateKey)])).data;
    const policy = { default: [{ type: 'reject' }], transports: { docker: { [`${proxy.host}/signed`]: [{ type: 'sigstoreSigned', keyPath }] } } };
    await withPolicy(policy, async (s) => {
      expect(await s.service.pull(`${proxy!.host}/signed/api:1`)).toBe(image.config.digest);
      const asked = proxy!.requests.map((r) => r.url);
      expect(asked).toContain(referrersPath);
      expect(asked).not.toContain(fallbackPath);
    });
  });
});

describe('reject, insecureAcceptAnything and scope precedence', () => {
  it('rejects by a reject rule, accepts anything under insecureAcceptAnything', async () => {
    await withPolicy(signedScope(), async (s, file) => {
      await expectRefused(s, 'other/app', new RegExp(`refused by signature policy ${file}: the global "default" requirement #1 \\(reject\\): images here are rejected$`));
      expect(await s.service.pull(`${registry.host}/open/app:1`)).toBe(images['open/app']!.config.digest);
    });
    await withPolicy({ default: [{ type: 'insecureAcceptAnything' }] }, async (s) => {
      expect(await s.service.pull(`${registry.host}/signed/unsigned:1`)).toBe(images['signed/unsigned']!.config.digest);
    });
  });

  it('applies only the most specific scope: image, then repository, namespace, host, transport default', async () => {
    const h = registry.host;
    const accept = [{ type: 'insecureAcceptAnything' }];
    const policy = {
      default: accept,
      transports: {
        docker: {
          '': [{ type: 'reject' }],
          [h]: accept,
          [`${h}/signed`]: [{ type: 'reject' }],
          [`${h}/signed/unsigned`]: accept,
          [`${h}/open/app:1`]: [{ type: 'reject' }],
        },
      },
    };
    await withPolicy(policy, async (s, file) => {
      // The repository scope beats its namespace's reject.
      expect(await s.service.pull(`${h}/signed/unsigned:1`)).toBe(images['signed/unsigned']!.config.digest);
      await s.service.remove(images['signed/unsigned']!.config.digest);
      await s.service.collectLayers();
      await expectRefused(s, 'signed/app', new RegExp(`docker scope "${h}/signed" requirement #1 \\(reject\\)`));
      // The full image reference beats the host's accept.
      await expectRefused(s, 'open/app', new RegExp(`docker scope "${h}/open/app:1" requirement #1 \\(reject\\)`));
      expect(file).toContain('policy-');
    });
    await withPolicy({ default: accept, transports: { docker: { '': [{ type: 'reject' }] } } }, async (s) => {
      await expectRefused(s, 'open/app', /the docker transport default \(""\) requirement #1 \(reject\)/);
    });
  });

  it('refuses every pull while the policy file is missing or invalid', async () => {
    const missing = join(dir, 'absent.json');
    const s = await newService({ signaturePolicy: missing });
    try {
      await expectRefused(s, 'open/app', `pull ${registry.host}/open/app:1: signature policy ${missing}: does not exist; every pull is refused until a policy is in place`);
      await writeFile(missing, '{"default": [{"type": "insecureAcceptAnything", "x": 1}]}');
      await expectRefused(s, 'open/app', `pull ${registry.host}/open/app:1: signature policy ${missing}: default[0]: unknown field "x"`);
      // The policy is read on every pull: fixing it needs no restart.
      await writeFile(missing, '{"default": [{"type": "insecureAcceptAnything"}]}');
      expect(await s.service.pull(`${registry.host}/open/app:1`)).toBe(images['open/app']!.config.digest);
    } finally {
      await s.close();
    }
  });
});
