// The image service behind the CRI ImageService calls: pull, list, status,
// remove, plus imageConfig for runtime-svc and importArchive (images from a
// local tar, no registry). Transport-free; the bus adapter maps these plain
// objects to proto messages (ImageFsInfo is storage-svc's usage, passed on
// there). Owner: image-svc.
// Recovery at init(): load the index, delete blobs no record references,
// drop partial downloads older than a day and staging of interrupted imports.
import { join } from 'node:path';
import { NotFoundError } from '@crius/common';
import { TokenCache, type AuthConfig } from './auth.js';
import { ContentStore } from './content-store.js';
import { HttpPool, type HttpTimeouts, type RetryOptions } from './http.js';
import { ImageIndex, type ImageRecord } from './image-index.js';
import { Importer, clearStaging, type ImportedImage } from './import.js';
import { toCriImage, toRuntimeConfig, verboseInfo, type CriImage, type ImageRuntimeConfig } from './image-view.js';
import { hostPlatform, type Platform } from './platform.js';
import { Puller, recordDigests, referencedDigests, type LayerUnpacker, type ProgressListener } from './pull.js';
import { digestedName, parseReference, taggedName, withDefaultTag } from './reference.js';
import { DEFAULT_REGISTRIES, candidatesFor, validateRegistriesConfig, type RegistriesConfig } from './registries.js';
import { loadAuthFile } from './auth-file.js';
import { PinnedImages } from './pinned.js';
import { SignaturePolicy } from './policy/signature-policy.js';
import { CONFIG_LIMIT, MANIFEST_LIMIT } from './registry-client.js';
import { Resolver } from './resolve.js';

const STALE_INGEST_MS = 24 * 3600 * 1000;

export interface ImageServiceOptions {
  /** Durable state: `<root>/blobs`, `<root>/ingest`, `<root>/images.json`; import staging in `<root>/importing`. */
  root: string;
  unpacker: LayerUnpacker;
  registries?: RegistriesConfig;
  /** containers-policy.json checked on every pull; undefined checks none (library use and tests). */
  signaturePolicy?: string;
  /** containers-auth.json used where the kubelet sends no credentials; undefined: none. */
  authFile?: string;
  /** pinned_images patterns (the sandbox image among them). */
  pinnedImages?: string[];
  /** Defaults to this node (linux + process.arch). */
  platform?: Platform;
  layerConcurrency?: number;
  retry?: RetryOptions;
  timeouts?: HttpTimeouts;
  manifestLimit?: number;
  configLimit?: number;
  /** Progress of every layer of every pull, at most every 250 ms per layer and at its end. */
  onProgress?: ProgressListener;
  /** Recovery and housekeeping messages (no secrets). */
  onWarning?: (message: string) => void;
}

export interface ImageStatusResult {
  image: CriImage;
  /** Empty unless verbose. */
  info: Record<string, string>;
}

export class ImageService {
  private readonly store: ContentStore;
  private readonly index: ImageIndex;
  private readonly http: HttpPool;
  private readonly puller: Puller;
  private readonly importer: Importer;
  private readonly stagingDir: string;
  private readonly registries: RegistriesConfig;
  private readonly pinned: PinnedImages;

  constructor(private readonly options: ImageServiceOptions) {
    this.registries = validateRegistriesConfig(options.registries ?? DEFAULT_REGISTRIES);
    this.pinned = new PinnedImages(options.pinnedImages ?? []);
    this.store = new ContentStore(options.root);
    this.index = new ImageIndex(options.root, options.onWarning);
    this.http = new HttpPool(options.timeouts);
    const resolver = new Resolver({
      registries: this.registries, http: this.http, tokens: new TokenCache(), retry: options.retry,
      manifestLimit: options.manifestLimit, configLimit: options.configLimit,
      ...(options.authFile ? { authFile: () => loadAuthFile(options.authFile!) } : {}),
    });
    this.puller = new Puller({
      store: this.store, index: this.index, resolver, unpacker: options.unpacker,
      platform: options.platform ?? hostPlatform(), layerConcurrency: options.layerConcurrency,
      ...(options.signaturePolicy ? { verifier: new SignaturePolicy(options.signaturePolicy) } : {}),
    });
    this.stagingDir = join(options.root, 'importing');
    this.importer = new Importer({
      store: this.store, index: this.index, unpacker: { unpack: (layers) => this.puller.unpack(layers) }, platform: options.platform ?? hostPlatform(),
      stagingDir: this.stagingDir,
      limits: { manifestLimit: options.manifestLimit ?? MANIFEST_LIMIT, configLimit: options.configLimit ?? CONFIG_LIMIT },
    });
  }

  /** Loads state and cleans what a crash left; call before serving. */
  async init(): Promise<void> {
    await this.store.init();
    await this.index.load();
    const referenced = referencedDigests(this.index.all());
    for (const digest of await this.store.list()) {
      if (!referenced.has(digest)) {
        await this.store.delete(digest);
        this.options.onWarning?.(`content store: removed unreferenced blob ${digest}`);
      }
    }
    await this.store.pruneIngest(STALE_INGEST_MS);
    await clearStaging(this.stagingDir);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** PullImage: returns the image ID (`sha256:<config digest>`), as containerd's image_ref. */
  async pull(image: string, auth?: AuthConfig, podAnnotations?: Record<string, string>): Promise<string> {
    void podAnnotations; // Accepted for CRI parity; no pull policy reads them yet.
    const record = await this.puller.pull(image, auth, this.options.onProgress);
    return record.id;
  }

  /**
   * ImportImage: every image of an OCI layout or docker-archive tar at the
   * absolute `path` (readable by image-svc's user). `name`: a repository for
   * tag-only ref.names, or a full reference for a one-image archive.
   */
  async importArchive(path: string, name?: string): Promise<ImportedImage[]> {
    return this.importer.import(path, name);
  }

  /** ListImages; with a filter, only the image it names (or nothing). */
  async list(filterImage?: string): Promise<CriImage[]> {
    if (filterImage) {
      const record = this.find(filterImage);
      return record ? [this.view(record)] : [];
    }
    return this.index.all().map((r) => this.view(r));
  }

  /** ImageStatus: null when the image is not here (CRI says: not an error). */
  async status(image: string, verbose = false): Promise<ImageStatusResult | null> {
    const record = this.find(image);
    if (!record) return null;
    if (!verbose) return { image: this.view(record), info: {} };
    const spec = JSON.parse((await this.store.read(record.id)).toString('utf8')) as unknown;
    return { image: this.view(record), info: verboseInfo(record, spec) };
  }

  /** The CRI view of a record; pinned by record or by [image] pinned_images. */
  private view(record: ImageRecord): CriImage {
    const image = toCriImage(record);
    return image.pinned ? image : { ...image, pinned: this.pinned.matches(record) };
  }

  /**
   * RemoveImage: whatever names it (ID, any one tag, any repo digest), the image goes with all
   * its names, as the CRI says, and every blob no other image uses. Idempotent. A container
   * made from it keeps running: its layers stay in storage-svc while its rootfs exists.
   */
  async remove(image: string): Promise<void> {
    const record = this.find(image);
    if (!record) return;
    await this.index.remove(record.id);
    const stillNeeded = referencedDigests(this.index.all());
    for (const digest of recordDigests(record)) {
      if (!stillNeeded.has(digest) && !this.puller.inUse(digest) && !this.importer.inUse(digest)) await this.store.delete(digest);
    }
  }

  /**
   * Layer garbage collection in storage-svc: keeps the layers of every image and
   * of every running pull or import (their records do not exist yet).
   */
  async collectLayers(): Promise<void> {
    await this.puller.collectLayers(() => this.importer.diffIdsInUse());
  }

  /**
   * At start: layers a pull handed to storage before image-svc stopped (a crash, or a
   * transient failure never retried) belong to no image; collect them once storage-svc
   * answers, retrying while it starts. Resolves with the outcome, never rejects.
   */
  async collectLayersAtStart(opts: { attempts?: number; delayMs?: number } = {}): Promise<{ ok: boolean; attempts: number; error?: string }> {
    const attempts = opts.attempts ?? 60;
    for (let i = 1; ; i++) {
      try {
        await this.collectLayers();
        return { ok: true, attempts: i };
      } catch (err) {
        if (i >= attempts) return { ok: false, attempts: i, error: (err as Error).message };
        await new Promise((r) => setTimeout(r, opts.delayMs ?? 1000).unref());
      }
    }
  }

  /** For runtime-svc: the image's config and layers; NotFound naming the input. */
  async imageConfig(idOrRef: string): Promise<ImageRuntimeConfig> {
    const record = this.find(idOrRef);
    if (!record) throw new NotFoundError(`image ${JSON.stringify(idOrRef)} not found`);
    return toRuntimeConfig(record);
  }

  /** Pin or unpin (kubelet's image GC leaves pinned images alone). */
  async setPinned(image: string, pinned: boolean): Promise<void> {
    const record = this.find(image);
    if (!record) throw new NotFoundError(`image ${JSON.stringify(image)} not found`);
    await this.index.setPinned(record.id, pinned);
  }

  /** Full ID, then name (tag or digest, short names searched), then a unique ID prefix. */
  private find(input: string): ImageRecord | undefined {
    if (/^(?:sha256:)?[a-f0-9]{64}$/.test(input)) return this.index.byIdOrPrefix(input);
    return this.findByName(input) ?? this.index.byIdOrPrefix(input);
  }

  private findByName(input: string): ImageRecord | undefined {
    let ref;
    try {
      ref = withDefaultTag(parseReference(input));
    } catch {
      return undefined;
    }
    for (const candidate of candidatesFor(this.registries, ref)) {
      if (candidate.digest) {
        const record = this.index.byRepoDigest(digestedName(candidate, candidate.digest))
          ?? this.index.all().find((r) => r.manifestDigest === candidate.digest && r.repoDigests.some((d) => d.startsWith(`${candidate.domain}/${candidate.path}@`)));
        if (record) return record;
        continue;
      }
      const record = this.index.byTag(taggedName(candidate)!);
      if (record) return record;
    }
    return undefined;
  }
}
