// Verifies one cosign signature against a sigstoreSigned requirement, in the
// order containers/image does: the layer must be a simple-signing payload, the
// base64 annotation must be a signature over the payload bytes by one of the
// policy's keys (ECDSA with SHA-256, Ed25519, RSA PKCS#1 v1.5 with SHA-256), and
// only then is the payload believed: critical.type must be cosign's,
// critical.image.docker-manifest-digest the pulled manifest's digest, and
// critical.identity.docker-reference acceptable under signedIdentity. Owner: image-svc.
import { verify, type KeyObject } from 'node:crypto';
import type { ImageReference } from '../reference.js';
import { SIMPLE_SIGNING_MEDIA_TYPE, type FoundSignature } from './cosign.js';
import { identityMatches } from './identity.js';
import type { IdentityMatch, SigstoreKey } from './policy-file.js';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function signedBy(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return verify(algorithm, payload, key, signature);
  } catch {
    return false; // a malformed signature for this key type
  }
}

type Json = Record<string, unknown>;

function exactObject(v: unknown, fields: string[]): Json | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === fields.length && fields.every((f) => keys.includes(f)) ? (v as Json) : undefined;
}

/** The payload's critical claims, or why they cannot be read. */
function claims(payload: Buffer): { digest: string; reference: string } | string {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'the payload is not JSON';
  }
  const critical = exactObject((json as Json | null)?.critical, ['identity', 'image', 'type']);
  if (!critical) return 'the payload\'s "critical" section is missing or has other fields than identity, image and type';
  if (critical.type !== COSIGN_SIGNATURE_TYPE) return `critical.type is ${JSON.stringify(critical.type)}, not ${JSON.stringify(COSIGN_SIGNATURE_TYPE)}`;
  const image = exactObject(critical.image, ['docker-manifest-digest']);
  const identity = exactObject(critical.identity, ['docker-reference']);
  const digest = image?.['docker-manifest-digest'];
  const reference = identity?.['docker-reference'];
  if (typeof digest !== 'string') return 'critical.image.docker-manifest-digest is missing';
  if (typeof reference !== 'string') return 'critical.identity.docker-reference is missing';
  return { digest, reference };
}

export interface Expected {
  /** The manifest (or index) digest the pull resolved to. */
  manifestDigest: string;
  /** The logical, fully-qualified reference being pulled. */
  image: ImageReference;
  imageName: string;
  keys: SigstoreKey[];
  signedIdentity: IdentityMatch;
}

/** Undefined when the signature is accepted, else why not. */
export function rejectSignature(sig: FoundSignature, expected: Expected): string | undefined {
  if (sig.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) return `layer media type ${JSON.stringify(sig.mediaType)} is not a simple-signing payload`;
  if (!sig.signature) return 'no dev.cosignproject.cosign/signature annotation';
  if (!BASE64.test(sig.signature)) return 'the signature annotation is not base64';
  const signature = Buffer.from(sig.signature, 'base64');
  if (!expected.keys.some((k) => signedBy(k.key, sig.payload, signature))) {
    return `not signed by ${expected.keys.length === 1 ? 'the policy\'s key' : `any of the policy's ${expected.keys.length} keys`} (${expected.keys.map((k) => k.source).join(', ')})`;
  }
  const claimed = claims(sig.payload);
  if (typeof claimed === 'string') return claimed;
  if (claimed.digest !== expected.manifestDigest) return `it signs manifest ${claimed.digest}, not the pulled ${expected.manifestDigest}`;
  if (!identityMatches(expected.signedIdentity, expected.image, claimed.reference)) {
    return `it claims identity ${JSON.stringify(claimed.reference)}, which signedIdentity ${expected.signedIdentity.type} does not accept for ${expected.imageName}`;
  }
  return undefined;
}
