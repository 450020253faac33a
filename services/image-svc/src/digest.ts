// Digest helpers shared by the image service: parse/validate `sha256:<hex>`
// strings and hash bytes. Owner: image-svc. Only sha256 is accepted because
// the content store addresses blobs by sha256 alone.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@crius/common';

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isSha256Digest(value: string): boolean {
  return SHA256_RE.test(value);
}

/** Throws InvalidArgumentError naming `what` unless `value` is a sha256 digest. */
export function assertSha256Digest(value: unknown, what: string): string {
  if (typeof value === 'string' && SHA256_RE.test(value)) return value;
  if (typeof value === 'string' && !value.startsWith('sha256:') && ANY_DIGEST_RE.test(value)) {
    throw new InvalidArgumentError(`${what}: unsupported digest ${value} (only sha256 is supported)`);
  }
  throw new InvalidArgumentError(`${what}: invalid digest ${JSON.stringify(value)}`);
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** Short form for messages and logs: `sha256:0123456789ab`. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}
