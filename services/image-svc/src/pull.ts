// Pull orchestration: resolve the reference, fetch manifest (through an index
// to this node's platform), config and layers (bounded parallel), hand each
// layer to storage for unpacking as soon as its blob is verified, then record
// the image. A pull that fails for good leaves no blob and no layer behind.
// Concurrent pulls of the same reference share one pull. Owner: image-svc.
import { createHash } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError, SharedLock, UnavailableError, mapLimit } from '@crius/common';
import type { AuthConfig } from './auth.js';
import type { ContentStore } from './content-store.js';
import type { ImageConfigSummary, ImageIndex, ImageRecord, LayerRecord } from './image-index.js';
import { parseImageConfig, parseManifest, selectPlatform, type ImageConfig, type ImageManifest } from './manifest.js';
import type { Platform } from './platform.js';
import { digestedName, formatReference, parseReference, taggedName, withDefaultTag, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';
import type { Resolver } from './resolve.js';
import { Leases } from './leases.js';
import type { PullVerifier } from './policy/signature-policy.js';

export interface UnpackLayer {
  digest: string;
  diffId: string;
  mediaType: string;
  path: string;
  /** The blob is still downloading into `path`, up to `size` bytes: storage reads it as it grows. */
  growing?: boolean;
  size?: number;
}

/** The storage service: unpacks each layer (once per diffID) from the content store. */
export interface LayerUnpacker {
  unpack(layers: UnpackLayer[]): Promise<void>;
  /** Drops every unpacked layer not in `keepDiffIds` that no container rootfs uses. */
  collect(keepDiffIds: string[]): Promise<void>;
}

export interface PullProgress {
  /** Fully-qualified reference being pulled. */
  ref: string;
  layerDigest: string;
  /** Bytes of this layer in the store so far. */
  done: number;
  total: number;
}

export type ProgressListener = (event: PullProgress) => void;

export interface PullerOptions {
  store: ContentStore;
  index: ImageIndex;
  resolver: Resolver;
  unpacker: LayerUnpacker;
  platform: Platform;
  /** Layers downloaded at once per pull. */
  layerConcurrency?: number;
  /** Least time between two progress reports of one layer (the last byte is always reported). */
  progressIntervalMs?: number;
  /** The signature policy: asked once the manifest is resolved, before anything is stored. */
  verifier?: PullVerifier;
}

interface Fetched {
  ref: ImageReference;
  topDigest: string;
  indexDigest?: string;
  manifestDigest: string;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  config: ImageConfig;
}

export class Puller {
  private readonly inflight = new Map<string, Promise<ImageRecord>>();
  /** Digests that running pulls have touched; never garbage while counted. */
  private readonly leases = new Leases();
  /** diffIDs of the layers running pulls unpack; layer collection keeps them. */
  private readonly layerLeases = new Leases();
  /**
   * Hand-offs to storage (shared) against layer collection (exclusive): the keep list is
   * computed and applied while no layer is on its way into storage, so a layer unpacked
   * after the list was made cannot be collected by it.
   */
  private readonly collection = new SharedLock();

  constructor(private readonly options: PullerOptions) {}

  /** Pulls `image` (as a user wrote it); returns the stored record. */
  pull(image: string, auth?: AuthConfig, onProgress?: ProgressListener): Promise<ImageRecord> {
    const ref = withDefaultTag(parseReference(image));
    // Different credentials must not ride on each other's pull.
    const key = `${formatReference(ref)}\n${createHash('sha256').update(JSON.stringify(auth ?? {})).digest('hex')}`;
    let running = this.inflight.get(key);
    if (!running) {
      running = this.pullOnce(image, ref, auth, onProgress).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  /** True while some pull holds `digest`; removal must leave it alone. */
  inUse(digest: string): boolean {
    return this.leases.has(digest);
  }

  private async pullOnce(label: string, ref: ImageReference, auth: AuthConfig | undefined, onProgress?: ProgressListener) {
    const held = new Set<string>();
    const hold = (digest: string) => {
      if (held.has(digest)) return;
      held.add(digest);
      this.leases.hold(digest);
    };
    let diffIds: string[] = [];
    let failure: unknown;
    try {
      const { client, ref: found, manifest: top } = await this.options.resolver.resolve(ref, `pull ${label}`, auth);
      await this.options.verifier?.verify(found, top.digest, client, `pull ${label}`);
      const fetched = await this.fetchMetadata(client, found, top.digest, top.bytes, top.contentType, hold);
      diffIds = fetched.config.diffIds;
      for (const diffId of diffIds) this.layerLeases.hold(diffId);
      await this.fetchAndUnpack(client, fetched, hold, onProgress);
      return await this.options.index.put(toRecord(fetched));
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      for (const diffId of diffIds) this.layerLeases.release(diffId);
      for (const digest of held) this.leases.release(digest);
      // Transient failures keep what arrived (blobs and unpacked layers) so a retry resumes;
      // anything else leaves nothing behind.
      if (failure !== undefined && !(failure instanceof UnavailableError)) {
        await this.discard(held);
        if (diffIds.length > 0) await this.collectLayers().catch(() => undefined); // layers may have been handed over
      }
    }
  }

  /**
   * Asks storage to drop layers that no image, pull or import needs (after a removal, a
   * failed pull, at start). `extraKeep` gives the layers of running imports.
   */
  async collectLayers(extraKeep: () => Iterable<string> = () => []): Promise<void> {
    await this.collection.withExclusive(async () => {
      const keep = new Set<string>(extraKeep());
      for (const record of this.options.index.all()) for (const layer of record.layers) keep.add(layer.diffId);
      for (const diffId of this.layerLeases.keys()) keep.add(diffId);
      await this.options.unpacker.collect([...keep]);
    });
  }

  /** Hands layers to storage; never while a collection runs (see `collection`). */
  unpack(layers: UnpackLayer[]): Promise<void> {
    return this.collection.withShared(() => this.options.unpacker.unpack(layers));
  }

  private async fetchMetadata(
    client: RegistryClient, ref: ImageReference, digest: string, bytes: Buffer, contentType: string | undefined,
    hold: (digest: string) => void,
  ): Promise<Fetched> {
    const { store, platform } = this.options;
    const what = `pull ${formatReference(ref)} from registry ${client.endpoint.host}`;
    const top = parseManifest(bytes, contentType, what);
    let indexDigest: string | undefined;
    let manifestDigest = digest;
    let manifestBytes = bytes;
    let manifest: ImageManifest;
    if (top.kind === 'index') {
      indexDigest = digest;
      hold(digest);
      await store.writeBlob(digest, bytes);
      const chosen = selectPlatform(top, platform, what);
      const fetched = await client.manifestByDigest(store, chosen.digest);
      const inner = parseManifest(fetched.bytes, fetched.contentType ?? chosen.mediaType, `${what}: manifest ${chosen.digest}`);
      if (inner.kind !== 'manifest') throw new FailedPreconditionError(`${what}: index entry ${chosen.digest} is another index`);
      [manifest, manifestDigest, manifestBytes] = [inner, fetched.digest, fetched.bytes];
    } else {
      manifest = top;
    }
    hold(manifestDigest);
    hold(manifest.config.digest);
    const configBytes = await client.fetchConfig(store, manifest.config);
    const config = parseImageConfig(configBytes, manifest.layers.length, `${what}: config ${manifest.config.digest}`);
    await store.writeBlob(manifestDigest, manifestBytes);
    return { ref, topDigest: digest, indexDigest, manifestDigest, manifestBytes, manifest, config };
  }

  /**
   * Downloads the layers (bounded parallel) and hands each to storage as soon as its
   * download starts: storage unpacks from the partial file as it grows and checks the
   * diffID; if that attempt fails for any reason but the layer's content, the verified
   * blob is handed over again once stored. Layers are independent directories (overlay
   * stacks them at mount time), so order does not matter. Returns once every downloaded
   * layer is unpacked; on failure, once those unpacks have settled (so collection after
   * it sees everything). Unpacks of downloads that failed end in storage by themselves
   * (the partial file stops growing or is deleted).
   */
  private async fetchAndUnpack(client: RegistryClient, f: Fetched, hold: (d: string) => void, onProgress?: ProgressListener) {
    const refName = formatReference(f.ref);
    const interval = this.options.progressIntervalMs ?? 250;
    const unpacks: Promise<void>[] = [];
    let unpackError: { err: unknown } | undefined;
    for (const layer of f.manifest.layers) hold(layer.digest);
    const layers = f.manifest.layers.map((layer, i) => ({ layer, diffId: f.config.diffIds[i]! }));
    let downloadError: { err: unknown } | undefined;
    try {
      await mapLimit(layers, this.options.layerConcurrency ?? 3, async ({ layer, diffId }) => {
        if (unpackError) return; // the pull has failed already: fetch no more
        let last = 0;
        const report = (done: number, force = false) => {
          const now = Date.now();
          if (!force && now - last < interval) return;
          last = now;
          onProgress?.({ ref: refName, layerDigest: layer.digest, done, total: layer.size });
        };
        const handOver = (path: string, growing: boolean) =>
          this.unpack([{ digest: layer.digest, diffId, mediaType: layer.mediaType, path, ...(growing ? { growing, size: layer.size } : {}) }]);
        // Storage starts on the layer while it downloads, reading the partial file as it grows.
        let early: Promise<{ err?: unknown }> | undefined;
        const onOpen = (partial: string) => {
          early ??= handOver(partial, true).then(() => ({}), (err: unknown) => ({ err: err ?? new Error('unpack failed') }));
        };
        await client.fetchBlob(this.options.store, layer, { onBytes: report, onOpen });
        report(layer.size, true);
        const unpacking = (async () => {
          // No early hand-off when the blob was already stored or another pull downloaded it.
          const outcome = early ? await early : undefined;
          if (outcome && outcome.err === undefined) return;
          // A layer storage refuses is refused again; anything else (the partial file stopped
          // growing, was replaced, was committed before storage opened it) gets the stored blob.
          if (outcome?.err instanceof InvalidArgumentError || outcome?.err instanceof ResourceExhaustedError) throw outcome.err;
          await handOver(this.options.store.path(layer.digest), false);
        })();
        unpacks.push(unpacking.catch((err: unknown) => {
          unpackError ??= { err };
        }));
      });
    } catch (err) {
      downloadError = { err };
    }
    await Promise.all(unpacks);
    // A download failure is reported first; an unpack failure otherwise.
    if (downloadError) throw downloadError.err;
    if (unpackError) throw unpackError.err;
  }

  /** Deletes what a failed pull wrote unless an image or another pull still needs it. */
  private async discard(digests: Set<string>): Promise<void> {
    const referenced = referencedDigests(this.options.index.all());
    for (const digest of digests) {
      if (this.leases.has(digest) || referenced.has(digest)) continue;
      await this.options.store.delete(digest);
    }
  }
}

/** Every blob an image record needs kept. */
export function recordDigests(record: ImageRecord): string[] {
  const digests = [record.manifestDigest, record.id, ...record.layers.map((l) => l.digest)];
  return record.indexDigest ? [record.indexDigest, ...digests] : digests;
}

export function referencedDigests(records: ImageRecord[]): Set<string> {
  return new Set(records.flatMap(recordDigests));
}

/** The runtime-relevant fields of an image config, as the index records them. */
export function configSummary(config: ImageConfig): ImageConfigSummary {
  const c = config.config;
  return {
    user: c.User ?? '',
    env: c.Env ?? [],
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    workingDir: c.WorkingDir ?? '',
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
    stopSignal: c.StopSignal ?? '',
    labels: c.Labels ?? {},
    volumes: Object.keys(c.Volumes ?? {}),
  };
}

function toRecord(f: Fetched): ImageRecord {
  const layers: LayerRecord[] = f.manifest.layers.map((l, i) => ({
    digest: l.digest, diffId: f.config.diffIds[i]!, mediaType: l.mediaType, size: l.size,
  }));
  const tag = taggedName(f.ref);
  const { os, architecture, variant } = f.config;
  return {
    id: f.manifest.config.digest,
    repoTags: tag ? [tag] : [],
    repoDigests: [digestedName(f.ref, f.topDigest)],
    size: f.manifestBytes.length + f.manifest.config.size + layers.reduce((sum, l) => sum + l.size, 0),
    manifestDigest: f.manifestDigest,
    manifestMediaType: f.manifest.mediaType,
    indexDigest: f.indexDigest,
    configMediaType: f.manifest.config.mediaType,
    platform: variant ? { os, architecture, variant } : { os, architecture },
    layers,
    config: configSummary(f.config),
    annotations: f.manifest.annotations,
    pinned: false,
    createdAt: new Date().toISOString(),
  };
}
