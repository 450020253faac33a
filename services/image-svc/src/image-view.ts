// Shapes image records into what CRI callers and runtime-svc see: the CRI
// `Image` message, ImageStatus verbose info, and the runtime's image config
// with layer chain IDs. Pure functions. Owner: image-svc.
import { createHash } from 'node:crypto';
import type { ImageConfigSummary, ImageRecord, LayerRecord } from './image-index.js';
import type { Platform } from './platform.js';

/** CRI runtime.v1 Image, field for field (size as a number). */
export interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  uid?: { value: number };
  username: string;
  spec: { image: string; annotations: Record<string, string> };
  pinned: boolean;
}

/** What runtime-svc needs to create a container from an image. */
export interface ImageRuntimeConfig {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  platform: Platform;
  config: ImageConfigSummary;
  layers: LayerRecord[];
  diffIds: string[];
  /** OCI chain ID of the top layer (empty for an image without layers). */
  chainId: string;
  annotations: Record<string, string>;
}

/**
 * CRI wants uid when the image user is numeric and username otherwise;
 * a group after ':' is not part of either.
 */
export function userOf(user: string): { uid?: { value: number }; username: string } {
  const name = user.split(':')[0] ?? '';
  if (name === '') return { username: '' };
  if (/^\d+$/.test(name)) return { uid: { value: Number(name) }, username: '' };
  return { username: name };
}

export function toCriImage(record: ImageRecord): CriImage {
  return {
    id: record.id,
    repoTags: [...record.repoTags],
    repoDigests: [...record.repoDigests],
    size: record.size,
    ...userOf(record.config.user),
    spec: { image: record.id, annotations: { ...record.annotations } },
    pinned: record.pinned,
  };
}

/** OCI chain IDs: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diff of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diff : `sha256:${createHash('sha256').update(`${previous} ${diff}`).digest('hex')}`);
  }
  return out;
}

export function toRuntimeConfig(record: ImageRecord): ImageRuntimeConfig {
  const diffIds = record.layers.map((l) => l.diffId);
  return {
    id: record.id,
    repoTags: [...record.repoTags],
    repoDigests: [...record.repoDigests],
    platform: { ...record.platform },
    config: structuredClone(record.config),
    layers: record.layers.map((l) => ({ ...l })),
    diffIds,
    chainId: chainIds(diffIds).at(-1) ?? '',
    annotations: { ...record.annotations },
  };
}

/** ImageStatus verbose info as containerd gives it: one `info` key holding JSON, imageSpec included. */
export function verboseInfo(record: ImageRecord, imageSpec: unknown): Record<string, string> {
  const info = {
    imageSpec,
    manifestDigest: record.manifestDigest,
    manifestMediaType: record.manifestMediaType,
    indexDigest: record.indexDigest,
    configMediaType: record.configMediaType,
    platform: record.platform,
    chainID: chainIds(record.layers.map((l) => l.diffId)).at(-1) ?? '',
    layers: record.layers,
    createdAt: record.createdAt,
  };
  return { info: JSON.stringify(info) };
}
