import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../reference.js';
import { SIMPLE_SIGNING_MEDIA_TYPE, type FoundSignature } from './cosign.js';
import { rejectSignature, type Expected } from './sigstore.js';

const manifestDigest = `sha256:${'e'.repeat(64)}`;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function payload(digest = manifestDigest, reference = 'r.example/app:1', type = 'cosign container image signature'): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type }, optional: { creator: 'test' } }));
}

function signed(key: KeyObject, bytes = payload(), mediaType = SIMPLE_SIGNING_MEDIA_TYPE): FoundSignature {
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return { where: 'test', mediaType, payload: bytes, signature: sign(algorithm, bytes, key).toString('base64') };
}

const expected = (keys: KeyObject[], image = 'r.example/app:1'): Expected => ({
  manifestDigest, image: parseReference(image), imageName: image, keys: keys.map((key, i) => ({ key, source: `key ${i}` })),
  signedIdentity: { type: 'matchRepoDigestOrExact' },
});

describe('cosign signature verification', () => {
  it('accepts ECDSA P-256, Ed25519 and RSA signatures by a policy key', () => {
    expect(rejectSignature(signed(ec.privateKey), expected([ec.publicKey]))).toBeUndefined();
    expect(rejectSignature(signed(ed.privateKey), expected([ed.publicKey]))).toBeUndefined();
    expect(rejectSignature(signed(rsa.privateKey), expected([other.publicKey, rsa.publicKey]))).toBeUndefined();
  });

  it('refuses another key, a tampered payload, a wrong digest, identity, type or media type', () => {
    expect(rejectSignature(signed(other.privateKey), expected([ec.publicKey]))).toBe("not signed by the policy's key (key 0)");
    const sig = signed(ec.privateKey);
    expect(rejectSignature({ ...sig, payload: payload(`sha256:${'f'.repeat(64)}`) }, expected([ec.publicKey]))).toMatch(/^not signed by/);
    expect(rejectSignature(signed(ec.privateKey, payload(`sha256:${'f'.repeat(64)}`)), expected([ec.publicKey])))
      .toBe(`it signs manifest sha256:${'f'.repeat(64)}, not the pulled ${manifestDigest}`);
    expect(rejectSignature(signed(ec.privateKey, payload(manifestDigest, 'r.example/evil:1')), expected([ec.publicKey])))
      .toBe('it claims identity "r.example/evil:1", which signedIdentity matchRepoDigestOrExact does not accept for r.example/app:1');
    expect(rejectSignature(signed(ec.privateKey, payload(manifestDigest, 'r.example/app:1', 'atomic container signature')), expected([ec.publicKey])))
      .toMatch(/critical\.type is "atomic container signature"/);
    expect(rejectSignature(signed(ec.privateKey, payload(), 'application/json'), expected([ec.publicKey]))).toMatch(/not a simple-signing payload/);
    expect(rejectSignature({ ...sig, signature: '' }, expected([ec.publicKey]))).toBe('no dev.cosignproject.cosign/signature annotation');
    const extra = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'r.example/app:1' }, image: { 'docker-manifest-digest': manifestDigest }, type: 'cosign container image signature', sneaky: 1 } }));
    expect(rejectSignature(signed(ec.privateKey, extra), expected([ec.publicKey]))).toMatch(/other fields/);
  });
});
