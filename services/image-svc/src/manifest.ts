// Parsing and validation of untrusted registry documents: OCI / Docker
// schema2 manifests and indexes, image configs; choosing this node's platform
// from an index. Owner: image-svc.
import { FailedPreconditionError, NotFoundError } from '@crius/common';
import { isSha256Digest } from './digest.js';
import { platformString, type Platform } from './platform.js';

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** Accept header for manifest GETs: everything we can parse. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(', ');

const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
const CONFIG_TYPES = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);
const LAYER_TYPES = new Set<string>([MediaType.OciLayerGzip, MediaType.OciLayer, MediaType.OciLayerZstd, MediaType.DockerLayerGzip]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations: Record<string, string>;
}

/** The subset of the OCI image config this runtime uses, plus the raw document. */
export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    StopSignal?: string;
    Labels?: Record<string, string>;
    Volumes?: Record<string, object>;
  };
  diffIds: string[];
  raw: Record<string, unknown>;
}

function bad(what: string, reason: string): never {
  throw new FailedPreconditionError(`${what}: invalid document: ${reason}`);
}

/** Registry data with a bad digest is a bad document (FailedPrecondition), not a bad request. */
function digestField(value: unknown, what: string, field: string): string {
  if (typeof value === 'string' && isSha256Digest(value)) return value;
  if (typeof value === 'string' && /^[a-z0-9+._-]+:/.test(value) && !value.startsWith('sha256:')) {
    bad(what, `${field}: unsupported digest algorithm in ${value} (only sha256)`);
  }
  bad(what, `${field}: invalid digest ${JSON.stringify(value)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, what: string, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) bad(what, `${field} must map strings to strings`);
  return value as Record<string, string>;
}

function stringList(value: unknown, what: string, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) bad(what, `${field} must be a list of strings`);
  return value as string[];
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new FailedPreconditionError(`${what}: not valid JSON`, { cause: err });
  }
  if (!isObject(doc)) bad(what, 'top level is not an object');
  return doc;
}

export function parseDescriptor(value: unknown, what: string, field: string): Descriptor {
  if (!isObject(value)) bad(what, `${field} is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) bad(what, `${field}.mediaType missing`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(what, `${field}.size must be a non-negative integer`);
  const desc: Descriptor = { mediaType, digest: digestField(digest, what, `${field}.digest`), size };
  if (isObject(value.platform)) desc.platform = parsePlatform(value.platform, what, field);
  if (value.annotations !== undefined) desc.annotations = stringMap(value.annotations, what, `${field}.annotations`);
  return desc;
}

function parsePlatform(value: Record<string, unknown>, what: string, field: string): Platform {
  const { os, architecture, variant } = value;
  if (typeof os !== 'string' || typeof architecture !== 'string') bad(what, `${field}.platform needs os and architecture`);
  return typeof variant === 'string' && variant ? { os, architecture, variant } : { os, architecture };
}

/** Decides what the bytes are: Content-Type first, then the document's own mediaType, then its shape. */
function detectMediaType(doc: Record<string, unknown>, contentType: string | undefined, what: string): string {
  const header = contentType?.split(';')[0]?.trim();
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  for (const candidate of [declared, header]) {
    if (candidate === MediaType.DockerSchema1 || candidate === MediaType.DockerSchema1Signed) {
      bad(what, 'Docker schema 1 manifests are not supported; push the image again with a current client');
    }
    if (candidate && (MANIFEST_TYPES.has(candidate) || INDEX_TYPES.has(candidate))) return candidate;
  }
  if (doc.schemaVersion === 1) bad(what, 'Docker schema 1 manifests are not supported');
  if (Array.isArray(doc.manifests)) return MediaType.OciIndex;
  if (isObject(doc.config) && Array.isArray(doc.layers)) return MediaType.OciManifest;
  bad(what, `unknown manifest media type ${JSON.stringify(declared ?? header ?? '')}`);
}

/** Parses a manifest or an index fetched from a registry; `what` names ref and registry for errors. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what: string): ImageManifest | ImageIndex {
  const doc = parseJson(bytes, what);
  if (doc.schemaVersion !== 2) bad(what, `schemaVersion ${JSON.stringify(doc.schemaVersion)} is not 2`);
  const mediaType = detectMediaType(doc, contentType, what);
  const annotations = stringMap(doc.annotations, what, 'annotations');
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) bad(what, 'index has no manifests list');
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, what, `manifests[${i}]`));
    return { kind: 'index', mediaType, manifests, annotations };
  }
  if (!Array.isArray(doc.layers)) bad(what, 'manifest has no layers list');
  const config = parseDescriptor(doc.config, what, 'config');
  if (!CONFIG_TYPES.has(config.mediaType)) bad(what, `config media type ${config.mediaType} is not an image config`);
  const layers = doc.layers.map((l, i) => parseDescriptor(l, what, `layers[${i}]`));
  for (const [i, layer] of layers.entries()) {
    if (!LAYER_TYPES.has(layer.mediaType)) bad(what, `layers[${i}] has unsupported media type ${layer.mediaType}`);
  }
  return { kind: 'manifest', mediaType, config, layers, annotations };
}

/** Parses an image config and checks it matches the manifest's layer count. */
export function parseImageConfig(bytes: Uint8Array, layerCount: number, what: string): ImageConfig {
  const doc = parseJson(bytes, what);
  const rootfs = isObject(doc.rootfs) ? doc.rootfs : bad(what, 'config has no rootfs');
  const diffIds = (stringList(rootfs.diff_ids, what, 'rootfs.diff_ids') ?? []).map((d, i) => digestField(d, what, `rootfs.diff_ids[${i}]`));
  if (diffIds.length !== layerCount) bad(what, `config lists ${diffIds.length} diff_ids but the manifest has ${layerCount} layers`);
  if (typeof doc.os !== 'string' || typeof doc.architecture !== 'string') bad(what, 'config needs os and architecture');
  const c = isObject(doc.config) ? doc.config : {};
  const config: ImageConfig['config'] = {
    User: typeof c.User === 'string' ? c.User : undefined,
    Env: stringList(c.Env, what, 'config.Env'),
    Entrypoint: stringList(c.Entrypoint, what, 'config.Entrypoint'),
    Cmd: stringList(c.Cmd, what, 'config.Cmd'),
    WorkingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : undefined,
    ExposedPorts: isObject(c.ExposedPorts) ? (c.ExposedPorts as Record<string, object>) : undefined,
    StopSignal: typeof c.StopSignal === 'string' ? c.StopSignal : undefined,
    Labels: c.Labels === undefined || c.Labels === null ? undefined : stringMap(c.Labels, what, 'config.Labels'),
    Volumes: isObject(c.Volumes) ? (c.Volumes as Record<string, object>) : undefined,
  };
  const variant = typeof doc.variant === 'string' && doc.variant ? doc.variant : undefined;
  return { os: doc.os, architecture: doc.architecture, variant, config, diffIds, raw: doc };
}

/** ARM64's only variant is v8; treat absent and v8 as the same. */
function normVariant(p: Platform): string {
  if (p.architecture === 'arm64' && (p.variant === undefined || p.variant === 'v8')) return 'v8';
  return p.variant ?? '';
}

function matchScore(candidate: Platform, want: Platform): number {
  if (candidate.os !== want.os || candidate.architecture !== want.architecture) return -1;
  const have = normVariant(candidate);
  const wanted = normVariant(want);
  if (have === wanted) return 2;
  if (have === '' || wanted === '') return 1;
  // An ARM v7 node runs v6 and v5 images, never the other way round.
  if (want.architecture === 'arm' && /^v\d$/.test(have) && /^v\d$/.test(wanted) && have < wanted) return 1;
  return -1;
}

/** Chooses the manifest for `want` from an index, or NotFound listing what the index offers. */
export function selectPlatform(index: ImageIndex, want: Platform, what: string): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = 0;
  for (const desc of index.manifests) {
    if (!desc.platform || !MANIFEST_TYPES.has(desc.mediaType)) continue;
    const score = matchScore(desc.platform, want);
    if (score > bestScore) {
      best = desc;
      bestScore = score;
    }
  }
  if (best) return best;
  const available = index.manifests.filter((d) => d.platform).map((d) => platformString(d.platform!));
  throw new NotFoundError(
    `${what}: no image for platform ${platformString(want)}; available: ${available.length ? available.join(', ') : 'none declared'}`,
  );
}
