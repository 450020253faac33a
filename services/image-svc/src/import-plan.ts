// What an image archive reader (OCI layout or docker-archive) hands the
// importer: one verified plan per image — blobs to store, manifest, config and
// the names the archive gives it — plus the naming rules that combine those
// names with the caller's `name`, and the record the index keeps.
// Owner: image-svc (image import).
import { InvalidArgumentError } from '@crius/common';
import type { ImageRecord, LayerRecord } from './image-index.js';
import type { ImageConfig, ImageManifest } from './manifest.js';
import { configSummary } from './pull.js';
import { parseReference, repositoryName, taggedName, withDefaultTag, type ImageReference } from './reference.js';

export interface PlannedBlob {
  digest: string;
  size: number;
  /** Staged file holding the verified bytes, or the bytes themselves (synthesised manifests). */
  file?: string;
  data?: Buffer;
  /** True for layers (they go to storage-svc after they are stored). */
  layer?: boolean;
}

export interface ImportPlan {
  /** Where in the archive this image was described, for messages. */
  what: string;
  /** Full references the archive gives the image (RepoTags, a full ref.name). */
  names: string[];
  /** An OCI ref.name that is only a tag (`1.36`): needs the caller's repository. */
  tagOnly?: string;
  blobs: PlannedBlob[];
  manifestDigest: string;
  manifestSize: number;
  manifest: ImageManifest;
  /** The nested index the manifest was chosen from, when there was one. */
  indexDigest?: string;
  config: ImageConfig;
}

export interface ImportLimits {
  manifestLimit: number;
  configLimit: number;
}

const TAG_ONLY = /^[\w][\w.-]{0,127}$/;

/** True for an OCI ref.name that is a bare tag rather than a reference. */
export function isTagOnly(refName: string): boolean {
  return TAG_ONLY.test(refName);
}

export interface ImportName {
  ref: ImageReference;
  /** A tag was given: the name is a full reference for the one image in the archive. */
  tagged: boolean;
}

/** The caller's `name`: a repository (`localhost/app`) or a full reference (`localhost/app:1`); never a digest. */
export function parseImportName(name: string | undefined): ImportName | undefined {
  if (!name) return undefined;
  const ref = parseReference(name);
  if (ref.digest) throw new InvalidArgumentError(`import name ${JSON.stringify(name)}: give a repository or repository:tag, not a digest`);
  return { ref, tagged: ref.tag !== undefined };
}

/**
 * Tags for one imported image. A tagged `name` replaces the archive's names
 * and needs an archive with one image; a repository `name` completes a
 * tag-only ref.name. An image the archive does not name stays untagged.
 */
export function resolveTags(plan: ImportPlan, name: ImportName | undefined, imageCount: number, source: string): string[] {
  if (name?.tagged) {
    if (imageCount !== 1) {
      throw new InvalidArgumentError(`import ${source}: name ${taggedName(name.ref)} has a tag but the archive holds ${imageCount} images; give only a repository`);
    }
    return [taggedName(name.ref)!];
  }
  const tags = plan.names.map((n) => archiveName(n, plan, source)).filter((t): t is string => t !== undefined);
  if (tags.length === 0 && plan.tagOnly !== undefined) {
    if (!name) {
      throw new InvalidArgumentError(
        `import ${source}: ${plan.what} is named only by the tag "${plan.tagOnly}"; pass the repository name to use (e.g. localhost/app)`,
      );
    }
    tags.push(`${repositoryName(name.ref)}:${plan.tagOnly}`);
  }
  return [...new Set(tags)];
}

function archiveName(input: string, plan: ImportPlan, source: string): string | undefined {
  try {
    return taggedName(withDefaultTag(parseReference(input)));
  } catch (err) {
    throw new InvalidArgumentError(`import ${source}: ${plan.what}: name ${JSON.stringify(input)} is not a valid image reference`, { cause: err });
  }
}

/** The index record of an imported image: no repo digests (no registry vouches for them), as containerd does. */
export function importedRecord(plan: ImportPlan, repoTags: string[], now = new Date()): ImageRecord {
  const { manifest, config } = plan;
  const layers: LayerRecord[] = manifest.layers.map((l, i) => ({ digest: l.digest, diffId: config.diffIds[i]!, mediaType: l.mediaType, size: l.size }));
  const { os, architecture, variant } = config;
  return {
    id: manifest.config.digest,
    repoTags,
    repoDigests: [],
    size: plan.manifestSize + manifest.config.size + layers.reduce((sum, l) => sum + l.size, 0),
    manifestDigest: plan.manifestDigest,
    manifestMediaType: manifest.mediaType,
    ...(plan.indexDigest ? { indexDigest: plan.indexDigest } : {}),
    configMediaType: manifest.config.mediaType,
    platform: variant ? { os, architecture, variant } : { os, architecture },
    layers,
    config: configSummary(config),
    annotations: manifest.annotations,
    pinned: false,
    createdAt: now.toISOString(),
  };
}
