// Finds the cosign signatures of a manifest digest in the repository it was
// pulled from, both ways cosign stores them: the `sha256-<hex>.sig` tag (an OCI
// manifest whose layers are simple-signing payloads, each with its signature in
// the `dev.cosignproject.cosign/signature` annotation), and OCI referrers with
// artifactType application/vnd.dev.cosign.artifact.sig.v1+json, through the
// distribution-spec referrers API or, where the registry has none, its
// `sha256-<hex>` fallback tag. Payloads are read into memory, bounded, never
// stored. Owner: image-svc.
import { NotFoundError } from '@crius/common';
import { digestHex, isSha256Digest } from '../digest.js';
import type { RegistryClient } from '../registry-client.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** Signature layers looked at per pull, over all places. */
export const MAX_SIGNATURES = 32;
/** Referrer manifests fetched per pull. */
const MAX_REFERRERS = 8;
export const PAYLOAD_LIMIT = 256 << 10;

export interface FoundSignature {
  /** Where it was found, for messages: `tag sha256-….sig layer 1`. */
  where: string;
  mediaType: string;
  payload: Buffer;
  /** The annotation's value (base64), empty when absent. */
  signature: string;
}

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function parseJson(bytes: Buffer): Json | undefined {
  try {
    return asObject(JSON.parse(bytes.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** The well-formed layer descriptors of a signature manifest (malformed ones are skipped: they sign nothing). */
function layersOf(manifest: Json): Layer[] {
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const out: Layer[] = [];
  for (const raw of layers) {
    const l = asObject(raw);
    if (!l || typeof l.mediaType !== 'string' || typeof l.digest !== 'string' || !isSha256Digest(l.digest)) continue;
    if (typeof l.size !== 'number' || !Number.isSafeInteger(l.size) || l.size < 0) continue;
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(asObject(l.annotations) ?? {})) if (typeof v === 'string') annotations[k] = v;
    out.push({ mediaType: l.mediaType, digest: l.digest, size: l.size, annotations });
  }
  return out;
}

async function manifestOrNothing(client: RegistryClient, selector: string): Promise<Buffer | undefined> {
  try {
    return (await client.getManifest(selector)).bytes;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** Digests of the cosign signature manifests among `digest`'s referrers. */
async function referrerDigests(client: RegistryClient, digest: string): Promise<{ digests: string[]; via: string }> {
  let via = 'referrers API';
  let index = await client.referrers(digest);
  if (!index) {
    via = `referrers tag sha256-${digestHex(digest).slice(0, 12)}…`;
    index = await manifestOrNothing(client, `sha256-${digestHex(digest)}`);
  }
  const json = index ? parseJson(index) : undefined;
  const manifests = Array.isArray(json?.manifests) ? json.manifests : [];
  const digests = manifests
    .map(asObject)
    .filter((m): m is Json => !!m && m.artifactType === COSIGN_ARTIFACT_TYPE && typeof m.digest === 'string' && isSha256Digest(m.digest))
    .map((m) => m.digest as string);
  return { digests: [...new Set(digests)].slice(0, MAX_REFERRERS), via };
}

/**
 * Every signature layer stored for `digest` (bounded). Not found anywhere is an
 * empty list; a registry failure (unreachable, refusing) propagates.
 */
export async function findSignatures(client: RegistryClient, digest: string): Promise<FoundSignature[]> {
  const found: FoundSignature[] = [];
  const take = async (manifest: Buffer, where: string) => {
    const json = parseJson(manifest);
    if (!json) return;
    for (const [i, layer] of layersOf(json).entries()) {
      if (found.length >= MAX_SIGNATURES) return;
      const payload = await client.readBlob(layer, PAYLOAD_LIMIT);
      found.push({
        where: `${where} layer ${i + 1}`, mediaType: layer.mediaType, payload,
        signature: layer.annotations[COSIGN_SIGNATURE_ANNOTATION] ?? '',
      });
    }
  };
  const tag = `sha256-${digestHex(digest)}.sig`;
  const tagged = await manifestOrNothing(client, tag);
  if (tagged) await take(tagged, `tag ${tag.slice(0, 19)}….sig`);
  const { digests, via } = await referrerDigests(client, digest);
  for (const d of digests) {
    if (found.length >= MAX_SIGNATURES) break;
    const manifest = await manifestOrNothing(client, d);
    if (manifest) await take(manifest, `referrer ${d.slice(0, 19)} (${via})`);
  }
  return found;
}
