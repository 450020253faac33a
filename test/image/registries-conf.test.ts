// registries.conf v2 (and its .d drop-ins) and a global auth.json, read from
// real files the way image-svc reads them, against real registries on loopback:
// location rewrite, mirrors with pull-from-mirror, blocked prefixes, short-name
// aliases, and credentials sent only to the host they are for.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError, parseConfig } from '@crius/common';
import { registriesFromConfig } from '../../services/image-svc/src/registries-config.js';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { freePort, startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

const creds = { username: 'puller', password: 'from-auth-json' };
let primary: RunningRegistry;
let mirror: RunningRegistry;
let privateA: RunningRegistry;
let privateB: RunningRegistry;
let image: OciImage;
let mirrored: OciImage;
let dir: string;

beforeAll(async () => {
  [primary, mirror, privateA, privateB] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ auth: creds }), startRegistry({ auth: creds })]);
  dir = await mkdtemp(join(tmpdir(), 'crius-regconf-it-'));
  image = await buildImage({ cmd: ['echo', 'primary'] });
  mirrored = await buildImage({ cmd: ['echo', 'mirror'] });
  await pushImage(primary.url, 'real/team/app', '1', image);
  await pushImage(primary.url, 'aliased/app', '1', image);
  await pushImage(primary.url, 'blocked/app', '1', image);
  await pushImage(primary.url, 'app', '1', image);
  // The mirror holds another image under the same tag, to tell apart where a pull went.
  await pushImage(mirror.url, 'app', '1', mirrored);
  await pushImage(mirror.url, 'tool', '1', mirrored);
  await pushImage(privateA.url, 'private/app', '1', image, { auth: creds });
  await pushImage(privateB.url, 'private/app', '1', image, { auth: creds });
});

afterAll(async () => {
  await Promise.all([primary?.stop(), mirror?.stop(), privateA?.stop(), privateB?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
/** An ImageService configured from a registries.conf (plus drop-ins) written for the test. */
async function serviceFrom(conf: string, dropIns: Record<string, string> = {}, extra: { authFile?: string } = {}) {
  const file = join(dir, `registries-${++n}.conf`);
  await writeFile(file, conf);
  if (Object.keys(dropIns).length) await mkdir(`${file}.d`);
  for (const [name, text] of Object.entries(dropIns)) await writeFile(join(`${file}.d`, name), text);
  const registries = await registriesFromConfig(parseConfig(`[image]\nregistries_conf = "${file}"\n`));
  return { s: await newService({ registries, ...extra }), file };
}

const gets = (r: RunningRegistry) => r.accessLog().filter((e) => e.method === 'GET').map((e) => e.path);

describe('registries.conf', () => {
  it('fetches from the rewritten location, naming the image as the user did', async () => {
    // The logical host is a closed loopback port: only the rewrite can make this pull work.
    const logical = `127.0.0.1:${await freePort()}`;
    const { s } = await serviceFrom(`[[registry]]\nprefix = "${logical}/team"\nlocation = "${primary.host}/real/team"\n`);
    try {
      primary.clearLog();
      expect(await s.service.pull(`${logical}/team/app:1`)).toBe(image.config.digest);
      expect(gets(primary)).toContain('/v2/real/team/app/manifests/1');
      expect(gets(primary).filter((p) => p.includes('/blobs/')).every((p) => p.startsWith('/v2/real/team/app/blobs/'))).toBe(true);
      expect((await s.service.list())[0]!.repoTags).toEqual([`${logical}/team/app:1`]);
    } finally {
      await s.close();
    }
  });

  it('uses a digest-only mirror for digest pulls and skips it for tags; tag-only the other way round', async () => {
    const { s } = await serviceFrom(`
[[registry]]
location = "${primary.host}"
[[registry.mirror]]
location = "${mirror.host}"
pull-from-mirror = "digest-only"
`);
    try {
      mirror.clearLog();
      expect(await s.service.pull(`${primary.host}/app:1`)).toBe(image.config.digest);
      expect(mirror.accessLog()).toEqual([]);
      expect(await s.service.pull(`${primary.host}/app@${mirrored.manifest.digest}`)).toBe(mirrored.config.digest);
      expect(gets(mirror)).toContain(`/v2/app/manifests/${mirrored.manifest.digest}`);
    } finally {
      await s.close();
    }
    const tagOnly = await serviceFrom(`[[registry]]\nlocation = "${primary.host}"\n[[registry.mirror]]\nlocation = "${mirror.host}"\npull-from-mirror = "tag-only"\n`);
    try {
      mirror.clearLog();
      expect(await tagOnly.s.service.pull(`${primary.host}/app:1`)).toBe(mirrored.config.digest);
      mirror.clearLog();
      expect(await tagOnly.s.service.pull(`${primary.host}/app@${image.manifest.digest}`)).toBe(image.config.digest);
      expect(mirror.accessLog()).toEqual([]);
    } finally {
      await tagOnly.s.close();
    }
  });

  it('refuses a blocked prefix without contacting the registry, naming the prefix and the file', async () => {
    const { s, file } = await serviceFrom(`[[registry]]\nprefix = "${primary.host}/blocked"\nlocation = "${primary.host}/blocked"\nblocked = true\n`);
    try {
      primary.clearLog();
      const err = await s.service.pull(`${primary.host}/blocked/app:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect((err as Error).message).toBe(`pull ${primary.host}/blocked/app:1: registry prefix "${primary.host}/blocked" is blocked in ${file}`);
      expect(primary.accessLog()).toEqual([]);
      expect(await s.blobs()).toEqual([]);
      // Names beside the blocked prefix still pull.
      expect(await s.service.pull(`${primary.host}/app:1`)).toBe(image.config.digest);
    } finally {
      await s.close();
    }
  });

  it('resolves a short name through an alias of a .d drop-in, not the search list', async () => {
    const { s } = await serviceFrom(`unqualified-search-registries = ["${mirror.host}"]\n`, {
      'shortnames.conf': `[aliases]\n"app" = "${primary.host}/aliased/app"\n`,
    });
    try {
      mirror.clearLog();
      expect(await s.service.pull('app:1')).toBe(image.config.digest);
      expect(mirror.accessLog()).toEqual([]);
      expect((await s.service.list())[0]!.repoTags).toEqual([`${primary.host}/aliased/app:1`]);
      expect((await s.service.status('app:1'))?.image.id).toBe(image.config.digest);
      // A name without an alias is searched on the registries.conf list.
      expect(await s.service.pull('tool:1')).toBe(mirrored.config.digest);
      expect(gets(mirror)).toContain('/v2/tool/manifests/1');
    } finally {
      await s.close();
    }
  });
});

describe('global auth file', () => {
  async function authFile(auths: Record<string, string>): Promise<string> {
    const file = join(dir, `auth-${++n}.json`);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(file, JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([k, v]) => [k, { auth: b64(v) }])) }));
    await chmod(file, 0o600);
    return file;
  }

  it('sends its credentials to the registry they are for when the kubelet sends none, and to no other host', async () => {
    const file = await authFile({ [`${privateA.host}/private`]: `${creds.username}:${creds.password}` });
    const { s } = await serviceFrom('', {}, { authFile: file });
    try {
      expect(await s.service.pull(`${privateA.host}/private/app:1`)).toBe(image.config.digest);
      // privateB accepts the very same credentials: a refusal proves they were not sent there.
      const err = await s.service.pull(`${privateB.host}/private/app:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect((err as Error).message).toMatch(/requires credentials \(basic auth\) and none were given$/);
      expect((err as Error).message).not.toContain(creds.password);
    } finally {
      await s.close();
    }
  });

  it('yields to credentials the kubelet sends for that registry', async () => {
    const file = await authFile({ [privateA.host]: `${creds.username}:${creds.password}` });
    const { s } = await serviceFrom('', {}, { authFile: file });
    try {
      const err = await s.service.pull(`${privateA.host}/private/app:1`, { username: creds.username, password: 'kubelet-wrong' }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/credentials rejected$/);
      // Kubelet credentials for another server leave the file's in charge here.
      expect(await s.service.pull(`${privateA.host}/private/app:1`, { username: 'x', password: 'y', serverAddress: 'quay.io' })).toBe(image.config.digest);
    } finally {
      await s.close();
    }
  });
});
