import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import { loadPolicy, parsePolicy } from './policy-file.js';

let dir: string;
let keyPath: string;
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-policy-'));
  keyPath = join(dir, 'key.pub');
  await writeFile(keyPath, pem);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const parse = (policy: unknown) => parsePolicy(JSON.stringify(policy), '/p.json');

describe('containers-policy.json parsing', () => {
  it('reads default, transports and scopes with keys from a path or inline data', async () => {
    const p = await parse({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          'docker.io/library/busybox': [{ type: 'insecureAcceptAnything' }],
          'reg.example:5000/signed': [{ type: 'sigstoreSigned', keyPath }],
          'reg.example:5000/inline': [{ type: 'sigstoreSigned', keyData: Buffer.from(pem).toString('base64'), signedIdentity: { type: 'matchRepository' } }],
        },
        'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
      },
    });
    expect(p.default).toEqual([{ type: 'reject' }]);
    const signed = p.transports.docker!['reg.example:5000/signed']![0]!;
    expect(signed.type === 'sigstoreSigned' && [signed.keys[0]!.source, signed.keys[0]!.key.asymmetricKeyType, signed.signedIdentity]).toEqual([
      `keyPath ${keyPath}`, 'ec', { type: 'matchRepoDigestOrExact' },
    ]);
    const inline = p.transports.docker!['reg.example:5000/inline']![0]!;
    expect(inline.type === 'sigstoreSigned' && [inline.keys[0]!.source, inline.signedIdentity.type]).toEqual(['keyData #1', 'matchRepository']);
  });

  it('is strict like containers/image: unknown fields, empty lists and key mix-ups invalidate the file', async () => {
    const bad = async (policy: unknown) => parse(policy).then(() => 'accepted', (e: Error) => { expect(e).toBeInstanceOf(FailedPreconditionError); return e.message; });
    expect(await bad({ default: [{ type: 'reject' }], extra: 1 })).toBe('signature policy /p.json: unknown field "extra"');
    expect(await bad({ transports: {} })).toBe('signature policy /p.json: the "default" requirements are missing');
    expect(await bad({ default: [] })).toBe('signature policy /p.json: default: must be a non-empty list of requirements');
    expect(await bad({ default: [{ type: 'reject', why: 'x' }] })).toBe('signature policy /p.json: default[0]: unknown field "why"');
    expect(await bad({ default: [{ type: 'trustMe' }] })).toBe('signature policy /p.json: default[0]: unknown requirement type "trustMe"');
    expect(await bad({ default: [{ type: 'sigstoreSigned', keyPath, keyData: 'eA==' }] })).toMatch(/exactly one of keyPath.*\(found 2\)/);
    expect(await bad({ default: [{ type: 'sigstoreSigned', keyPath: join(dir, 'missing.pub') }] })).toMatch(/keyPath .*missing\.pub: cannot read \(ENOENT\)/);
    expect(await bad({ default: [{ type: 'sigstoreSigned', keyData: 'bm90IGEga2V5' }] })).toMatch(/keyData #1: not a PEM public key/);
    expect(await bad({ default: [{ type: 'sigstoreSigned', keyPath, signedIdentity: { type: 'matchAnything' } }] })).toMatch(/unknown signedIdentity type/);
    expect(await bad({ default: [{ type: 'reject' }], transports: { docker: { 'a.example': [] } } })).toMatch(/transports\.docker\["a\.example"\]: must be a non-empty list/);
  });

  it('keeps rules crius cannot check as unsatisfiable, naming why', async () => {
    const p = await parse({
      default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }],
      transports: { docker: { f: [{ type: 'sigstoreSigned', fulcio: { caPath: '/ca', oidcIssuer: 'x', subjectEmail: 'y' }, rekorPublicKeyPath: '/r' }] } },
    });
    expect(p.default[0]).toEqual({ type: 'unsupported', rule: 'signedBy', reason: 'GPG simple signing is not supported by crius; use sigstoreSigned' });
    expect(p.transports.docker!.f![0]).toMatchObject({ type: 'unsupported', rule: 'sigstoreSigned', reason: expect.stringContaining('fulcio certificates are not supported') });
  });

  it('fails closed on a missing file', async () => {
    await expect(loadPolicy(join(dir, 'none.json'))).rejects.toThrow(new FailedPreconditionError(
      `signature policy ${join(dir, 'none.json')}: does not exist; every pull is refused until a policy is in place`,
    ));
  });
});
