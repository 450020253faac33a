// Issue 21 end to end through the CRI socket: image-svc configured the way
// nodes are — a containers-policy.json with a sigstoreSigned scope, a
// registries.conf with a short-name alias in its .d directory, a global
// auth.json, pinned_images and the sandbox image — against real registries.
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import { startStack, type TestStack } from '../harness/stack.js';
import { callCri, rawClient } from '../harness/raw-cri.js';
import { generateKeys, pushSignatureTag, signImage } from '../fixtures/cosign.js';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';

const creds = { username: 'node', password: 'auth-json-secret' };
let reg: RunningRegistry;
let priv: RunningRegistry;
let s: TestStack;
let client: Client;
let dir: string;
const images: Record<string, OciImage> = {};

interface CriImage { id: string; repoTags: string[]; pinned: boolean }

beforeAll(async () => {
  [reg, priv] = await Promise.all([startRegistry(), startRegistry({ auth: creds })]);
  dir = await mkdtemp(path.join(tmpdir(), 'crius-e2e-imgcfg-'));
  const key = generateKeys('ed25519');
  await writeFile(path.join(dir, 'key.pub'), key.publicPem);
  for (const [repo, note] of [['signed/app', 'signed'], ['signed/unsigned', 'unsigned'], ['keep/app', 'kept'], ['pause', 'pause'], ['other/app', 'other']] as const) {
    images[repo] = await buildImage({ cmd: ['echo', note] });
    await pushImage(reg.url, repo, repo === 'pause' ? '3.10' : '1', images[repo]!);
  }
  const signed = images['signed/app']!.manifest.digest;
  await pushSignatureTag(reg.url, 'signed/app', signed, [signImage(signed, `${reg.host}/signed/app:1`, key.privateKey)]);
  images['private/app'] = images['other/app']!;
  await pushImage(priv.url, 'private/app', '1', images['private/app']!, { auth: creds });

  await writeFile(path.join(dir, 'policy.json'), JSON.stringify({
    default: [{ type: 'insecureAcceptAnything' }],
    transports: { docker: { [`${reg.host}/signed`]: [{ type: 'sigstoreSigned', keyPath: path.join(dir, 'key.pub') }] } },
  }));
  await writeFile(path.join(dir, 'registries.conf'), '# crius e2e\n');
  await mkdir(path.join(dir, 'registries.conf.d'));
  await writeFile(path.join(dir, 'registries.conf.d', 'shortnames.conf'), `[aliases]\n"kept" = "${reg.host}/keep/app"\n`);
  await writeFile(path.join(dir, 'auth.json'), JSON.stringify({ auths: { [priv.host]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } } }));
  await chmod(path.join(dir, 'auth.json'), 0o600);

  s = await startStack('', {
    image: {
      signature_policy: JSON.stringify(path.join(dir, 'policy.json')),
      registries_conf: JSON.stringify(path.join(dir, 'registries.conf')),
      global_auth_file: JSON.stringify(path.join(dir, 'auth.json')),
      pinned_images: '["*keep*"]',
      pause_image: JSON.stringify(`${reg.host}/pause:3.10`),
    },
  });
  client = rawClient(s.config.api.listen);
}, 120_000);

afterAll(async () => {
  client?.close();
  await s?.stop();
  await Promise.all([reg?.stop(), priv?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function pull(image: string) {
  return callCri(client, 'PullImage', { image: { image } }, 60_000);
}

async function listed(): Promise<CriImage[]> {
  const r = await callCri(client, 'ListImages', {});
  if (!r.ok) throw r.error;
  return (r.reply as { images: CriImage[] }).images;
}

const layerDirs = async () => (await readdir(path.join(s.config.state.root, 'storage', 'layers'))).filter((l) => /^[0-9a-f]{64}$/.test(l)).sort();

describe('image configuration through the gateway', () => {
  it('pulls a signed image and refuses an unsigned one with FAILED_PRECONDITION, keeping nothing of it', async () => {
    const ok = await pull(`${reg.host}/signed/app:1`);
    if (!ok.ok) throw ok.error;
    expect((ok.reply as { imageRef: string }).imageRef).toBe(images['signed/app']!.config.digest);
    const layersBefore = await layerDirs();
    const refused = await pull(`${reg.host}/signed/unsigned:1`);
    expect(!refused.ok && refused.error.code).toBe(status.FAILED_PRECONDITION);
    expect(!refused.ok && refused.error.details).toContain(`refused by signature policy ${path.join(dir, 'policy.json')}: docker scope "${reg.host}/signed" requirement #1 (sigstoreSigned): no cosign signature`);
    expect((await listed()).map((i) => i.id)).not.toContain(images['signed/unsigned']!.config.digest);
    expect(await layerDirs()).toEqual(layersBefore);
  });

  it('pulls from a private registry with the global auth.json when the kubelet sends no credentials', async () => {
    const r = await pull(`${priv.host}/private/app:1`);
    if (!r.ok) throw r.error;
    expect((r.reply as { imageRef: string }).imageRef).toBe(images['private/app']!.config.digest);
  });

  it('resolves a short-name alias from registries.conf.d and reports pinned images (pinned_images, sandbox image)', async () => {
    for (const name of ['kept:1', `${reg.host}/pause:3.10`]) {
      const r = await pull(name);
      if (!r.ok) throw r.error;
    }
    const byTag = new Map((await listed()).flatMap((i) => i.repoTags.map((t) => [t, i] as const)));
    expect(byTag.get(`${reg.host}/keep/app:1`)?.pinned).toBe(true);
    expect(byTag.get(`${reg.host}/pause:3.10`)?.pinned).toBe(true);
    expect(byTag.get(`${reg.host}/signed/app:1`)?.pinned).toBe(false);
    const st = await callCri(client, 'ImageStatus', { image: { image: 'kept:1' } });
    if (!st.ok) throw st.error;
    expect((st.reply as { image: CriImage }).image.pinned).toBe(true);
  });

  it('still removes a pinned image when asked explicitly, as CRI-O does', async () => {
    const r = await callCri(client, 'RemoveImage', { image: { image: `${reg.host}/keep/app:1` } });
    if (!r.ok) throw r.error;
    const st = await callCri(client, 'ImageStatus', { image: { image: `${reg.host}/keep/app:1` } });
    expect(st.ok && (st.reply as { image?: unknown }).image).toBeFalsy();
  });
});
