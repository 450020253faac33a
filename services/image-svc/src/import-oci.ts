// Reads an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>) out of
// a staged archive into import plans: each image manifest index.json lists
// becomes an image (a nested index contributes its manifest for this node's
// platform), named by its ref.name annotation. Owner: image-svc (image import).
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@crius/common';
import type { StagedArchive } from './archive-reader.js';
import { isTagOnly, type ImportLimits, type ImportPlan, type PlannedBlob } from './import-plan.js';
import { MediaType, parseImageConfig, parseManifest, selectPlatform, type Descriptor, type ImageIndex } from './manifest.js';
import { REF_NAME_ANNOTATION } from './oci-layout-writer.js';
import { platformString, type Platform } from './platform.js';

/** containerd (and Docker 25+ `docker save`) put the full name here, ref.name holding only the tag. */
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
const LAYOUT_FILE_LIMIT = 64 << 10;
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);

export async function planOciLayout(archive: StagedArchive, platform: Platform, limits: ImportLimits): Promise<ImportPlan[]> {
  const source = archive.source;
  await checkLayoutVersion(archive);
  const indexFile = archive.file('index.json', 'the OCI layout');
  const top = parseManifest(await archive.read(indexFile, limits.manifestLimit), MediaType.OciIndex, `import ${source}: index.json`);
  if (top.kind !== 'index') throw new InvalidArgumentError(`import ${source}: index.json is an image manifest, not an image index`);
  const plans: ImportPlan[] = [];
  for (const [i, desc] of top.manifests.entries()) {
    const plan = await planEntry(archive, desc, `index.json manifests[${i}]`, platform, limits);
    if (plan) plans.push(plan);
  }
  if (plans.length === 0) {
    throw new InvalidArgumentError(`import ${source}: index.json lists no image manifest for platform ${platformString(platform)}`);
  }
  return plans;
}

async function checkLayoutVersion(archive: StagedArchive): Promise<void> {
  const what = `import ${archive.source}: oci-layout`;
  let doc: unknown;
  try {
    doc = JSON.parse((await archive.read(archive.file('oci-layout', 'the OCI layout'), LAYOUT_FILE_LIMIT)).toString('utf8'));
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`${what}: not valid JSON`, { cause: err });
  }
  const version = (doc as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
    throw new InvalidArgumentError(`${what}: unsupported imageLayoutVersion ${JSON.stringify(version)} (want 1.x)`);
  }
}

/** One index.json entry → a plan, or undefined when it is not an image for this platform. */
async function planEntry(
  archive: StagedArchive, desc: Descriptor, what: string, platform: Platform, limits: ImportLimits,
): Promise<ImportPlan | undefined> {
  const blobs: PlannedBlob[] = [];
  let manifestDesc = desc;
  let indexDigest: string | undefined;
  if (INDEX_TYPES.has(desc.mediaType)) {
    const file = archive.blob(desc.digest, desc.size, what);
    const nested = parseManifest(await archive.read(file, limits.manifestLimit), desc.mediaType, `import ${archive.source}: ${what}`);
    if (nested.kind !== 'index') throw new FailedPreconditionError(`import ${archive.source}: ${what} says index but ${desc.digest} is a manifest`);
    manifestDesc = choosePlatform(nested, platform, `import ${archive.source}: ${what}`);
    indexDigest = desc.digest;
    blobs.push({ digest: desc.digest, size: file.size, file: file.file });
  } else if (!MANIFEST_TYPES.has(desc.mediaType) || (desc.platform && !fitsPlatform(desc, platform))) {
    return undefined;
  }
  const manifestWhat = `${what} (manifest ${manifestDesc.digest})`;
  const manifestFile = archive.blob(manifestDesc.digest, manifestDesc.size, what);
  const manifest = parseManifest(await archive.read(manifestFile, limits.manifestLimit), manifestDesc.mediaType, `import ${archive.source}: ${manifestWhat}`);
  if (manifest.kind !== 'manifest') throw new FailedPreconditionError(`import ${archive.source}: ${manifestWhat} is an index, not an image manifest`);
  const configFile = archive.blob(manifest.config.digest, manifest.config.size, `${manifestWhat} config`);
  const config = parseImageConfig(await archive.read(configFile, limits.configLimit), manifest.layers.length, `import ${archive.source}: ${manifestWhat} config`);
  blobs.push({ digest: manifestDesc.digest, size: manifestFile.size, file: manifestFile.file });
  blobs.push({ digest: manifest.config.digest, size: configFile.size, file: configFile.file });
  for (const [j, layer] of manifest.layers.entries()) {
    const file = archive.blob(layer.digest, layer.size, `${manifestWhat} layers[${j}]`);
    blobs.push({ digest: layer.digest, size: file.size, file: file.file, layer: true });
  }
  const names: string[] = [];
  let tagOnly: string | undefined;
  const fullName = desc.annotations?.[CONTAINERD_NAME_ANNOTATION];
  const refName = desc.annotations?.[REF_NAME_ANNOTATION];
  if (fullName) names.push(fullName);
  if (refName && isTagOnly(refName)) tagOnly = refName;
  else if (refName) names.push(refName);
  return {
    what, names, tagOnly, blobs, manifestDigest: manifestDesc.digest, manifestSize: manifestFile.size, manifest, indexDigest, config,
  };
}

/** The node's manifest from a nested index; an index without one is a bad archive for this node. */
function choosePlatform(index: ImageIndex, platform: Platform, what: string): Descriptor {
  try {
    return selectPlatform(index, platform, what);
  } catch (err) {
    if (err instanceof NotFoundError) throw new FailedPreconditionError(err.message, { cause: err });
    throw err;
  }
}

function fitsPlatform(desc: Descriptor, platform: Platform): boolean {
  try {
    selectPlatform({ kind: 'index', mediaType: MediaType.OciIndex, manifests: [desc], annotations: {} }, platform, 'platform check');
    return true;
  } catch {
    return false;
  }
}
