// Reads a docker-archive (`docker save`: manifest.json listing Config,
// RepoTags and Layers; layer tars plain or gzip) out of a staged archive into
// import plans. Digests are computed here — the config's, each layer file's
// as stored, each layer's diffID — and a Docker schema2 manifest is written
// for the image, as containerd does on import. Owner: image-svc (image import).
// Docker's optional `repositories` file repeats RepoTags for old clients; it is
// not read.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { isGzipFile, type StagedArchive, type StagedFile } from './archive-reader.js';
import { sha256Digest } from './digest.js';
import type { ImportLimits, ImportPlan, PlannedBlob } from './import-plan.js';
import { MediaType, parseImageConfig, type Descriptor, type ImageManifest } from './manifest.js';

/** Uncompressed Docker layer (containerd's name for it; Docker itself only ever stored them in archives). */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

interface ArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export async function planDockerArchive(archive: StagedArchive, limits: ImportLimits): Promise<ImportPlan[]> {
  const entries = parseManifestJson(await archive.read(archive.file('manifest.json', 'the docker-archive'), limits.manifestLimit), archive.source);
  const plans: ImportPlan[] = [];
  for (const [i, entry] of entries.entries()) plans.push(await planImage(archive, entry, `manifest.json[${i}]`, limits));
  return plans;
}

function parseManifestJson(bytes: Buffer, source: string): ArchiveEntry[] {
  const bad = (reason: string): never => {
    throw new InvalidArgumentError(`import ${source}: manifest.json: ${reason}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`import ${source}: manifest.json: not valid JSON`, { cause: err });
  }
  if (!Array.isArray(doc) || doc.length === 0) bad('expected a non-empty list of images');
  return (doc as unknown[]).map((e, i) => {
    const entry = e as Partial<Record<keyof ArchiveEntry, unknown>> | null;
    if (typeof entry !== 'object' || entry === null) return bad(`[${i}] is not an object`);
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (typeof entry.Config !== 'string' || entry.Config === '') bad(`[${i}].Config must name the config file`);
    if (!strings(entry.Layers)) bad(`[${i}].Layers must be a list of file names`);
    if (entry.RepoTags !== undefined && entry.RepoTags !== null && !strings(entry.RepoTags)) bad(`[${i}].RepoTags must be a list of names`);
    return { Config: entry.Config as string, Layers: entry.Layers as string[], RepoTags: (entry.RepoTags as string[] | null) ?? [] };
  });
}

async function planImage(archive: StagedArchive, entry: ArchiveEntry, what: string, limits: ImportLimits): Promise<ImportPlan> {
  const source = archive.source;
  const configFile = archive.file(entry.Config, `${what}.Config`);
  checkNamedDigest(entry.Config, configFile, source);
  const config = parseImageConfig(await archive.read(configFile, limits.configLimit), entry.Layers.length, `import ${source}: ${what} config "${configFile.name}"`);
  const layers: Descriptor[] = [];
  const blobs: PlannedBlob[] = [{ digest: configFile.digest, size: configFile.size, file: configFile.file }];
  for (const [j, name] of entry.Layers.entries()) {
    const file = archive.file(name, `${what}.Layers[${j}]`);
    const gzip = await isGzipFile(file.file);
    const diffId = gzip ? await gunzipDigest(file, source) : file.digest;
    if (diffId !== config.diffIds[j]) {
      throw new FailedPreconditionError(
        `import ${source}: entry "${file.name}": layer ${j} of ${what} has diffID ${diffId} but config "${configFile.name}" lists ${config.diffIds[j]}`,
      );
    }
    layers.push({ mediaType: gzip ? MediaType.DockerLayerGzip : DOCKER_LAYER_TAR, digest: file.digest, size: file.size });
    blobs.push({ digest: file.digest, size: file.size, file: file.file, layer: true });
  }
  const configDesc = { mediaType: MediaType.DockerConfig, digest: configFile.digest, size: configFile.size };
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: configDesc, layers }));
  const manifestDigest = sha256Digest(manifestBytes);
  const manifest: ImageManifest = { kind: 'manifest', mediaType: MediaType.DockerManifest, config: configDesc, layers, annotations: {} };
  blobs.unshift({ digest: manifestDigest, size: manifestBytes.length, data: manifestBytes });
  return { what, names: entry.RepoTags, blobs, manifestDigest, manifestSize: manifestBytes.length, manifest, config };
}

/** Docker names config files `<hex>.json` (older) or `blobs/sha256/<hex>`: the name must be the content's digest. */
function checkNamedDigest(name: string, file: StagedFile, source: string): void {
  const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(name)?.[1];
  if (named && `sha256:${named}` !== file.digest) {
    throw new FailedPreconditionError(`import ${source}: entry "${name}": digest mismatch: content is ${file.digest}`);
  }
}

async function gunzipDigest(file: StagedFile, source: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file.file), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) hash.update(chunk);
    });
  } catch (err) {
    throw new FailedPreconditionError(`import ${source}: entry "${file.name}": gzip data is corrupt`, { cause: err });
  }
  return `sha256:${hash.digest('hex')}`;
}
