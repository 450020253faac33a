// Image import from a tar on local disk — an OCI image layout (oci-archive) or
// a docker-archive (`docker save`), optionally gzip-compressed — so images
// load without a registry. The archive is streamed into a staging directory
// and every blob checked before anything is stored; then blobs are committed
// to the content store, layers unpacked by storage-svc (as for pulls) and the
// images recorded with their tags and no repo digests. A failure leaves
// nothing behind. Owner: image-svc.
//
// image-svc runs as an unprivileged user: the file must be readable by it
// (e.g. mode 0644 in a directory it can traverse); otherwise FailedPrecondition.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, rm, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@crius/common';
import { StagedArchive } from './archive-reader.js';
import type { ContentStore } from './content-store.js';
import type { ImageIndex } from './image-index.js';
import { Leases } from './leases.js';
import { planDockerArchive } from './import-docker.js';
import { planOciLayout } from './import-oci.js';
import { importedRecord, parseImportName, resolveTags, type ImportLimits, type ImportPlan } from './import-plan.js';
import type { Platform } from './platform.js';
import { referencedDigests, type LayerUnpacker } from './pull.js';

export interface ImportedImage {
  /** Image ID: `sha256:<config digest>`. */
  id: string;
  /** The tags this import gave the image (fully qualified); empty when the archive names none. */
  repoTags: string[];
}

export interface ImporterOptions {
  store: ContentStore;
  index: ImageIndex;
  /** Hands layers to storage (through the puller, which orders it against layer collection). */
  unpacker: Pick<LayerUnpacker, 'unpack'>;
  platform: Platform;
  /** Scratch space on the content store's filesystem; emptied by ImageService.init(). */
  stagingDir: string;
  limits: ImportLimits;
}

export class Importer {
  /** Digests a running import has stored but not yet recorded; removal leaves them alone. */
  private readonly leases = new Leases();
  /** Layers a running import unpacks; layer collection leaves them alone. */
  private readonly layerLeases = new Leases();

  constructor(private readonly options: ImporterOptions) {}

  inUse(digest: string): boolean {
    return this.leases.has(digest);
  }

  /** diffIDs of the layers running imports unpack. */
  diffIdsInUse(): Iterable<string> {
    return this.layerLeases.keys();
  }

  /**
   * Imports every image in the archive at `path` (absolute). `name` is a
   * repository for tag-only ref.names, or a full reference for a one-image
   * archive (replacing the archive's names).
   */
  async import(path: string, name?: string): Promise<ImportedImage[]> {
    if (!isAbsolute(path)) throw new InvalidArgumentError(`import ${JSON.stringify(path)}: the path must be absolute (image-svc resolves it, not the caller)`);
    const importName = parseImportName(name);
    await checkReadable(path);
    await mkdir(this.options.stagingDir, { recursive: true, mode: 0o700 });
    const archive = await StagedArchive.stage(path, join(this.options.stagingDir, randomBytes(8).toString('hex')));
    try {
      const plans = await this.plan(archive);
      const tagged = plans.map((plan) => ({ plan, tags: resolveTags(plan, importName, plans.length, path) }));
      return await this.commit(tagged);
    } finally {
      await archive.remove();
    }
  }

  private async plan(archive: StagedArchive): Promise<ImportPlan[]> {
    const { platform, limits } = this.options;
    if (archive.has('oci-layout')) return planOciLayout(archive, platform, limits);
    if (archive.has('manifest.json')) return planDockerArchive(archive, limits);
    throw new InvalidArgumentError(
      `import ${archive.source}: neither an OCI image layout (no oci-layout file) nor a docker-archive (no manifest.json)`,
    );
  }

  /** Stores blobs, unpacks layers, then records the images; undoes the stored blobs on failure. */
  private async commit(items: { plan: ImportPlan; tags: string[] }[]): Promise<ImportedImage[]> {
    const { store, index, unpacker } = this.options;
    const blobs = new Map(items.flatMap(({ plan }) => plan.blobs.map((b) => [b.digest, b] as const)));
    const diffIds = items.flatMap(({ plan }) => plan.config.diffIds);
    for (const digest of blobs.keys()) this.leases.hold(digest);
    for (const diffId of diffIds) this.layerLeases.hold(diffId);
    const added: string[] = [];
    try {
      for (const blob of blobs.values()) {
        if (await store.has(blob.digest)) continue;
        if (blob.file) await store.adopt(blob.file, blob.digest);
        else await store.writeBlob(blob.digest, blob.data!);
        added.push(blob.digest);
      }
      for (const { plan } of items) {
        const layers = plan.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: plan.config.diffIds[i]!, mediaType: l.mediaType, path: store.path(l.digest) }));
        await unpacker.unpack(layers);
      }
      const imported: ImportedImage[] = [];
      for (const { plan, tags } of items) {
        const record = await index.put(importedRecord(plan, tags));
        imported.push({ id: record.id, repoTags: tags });
      }
      return imported;
    } catch (err) {
      await this.discard(added);
      throw err;
    } finally {
      for (const digest of blobs.keys()) this.leases.release(digest);
      for (const diffId of diffIds) this.layerLeases.release(diffId);
    }
  }

  /** Deletes blobs this import added unless an image or another import needs them. */
  private async discard(added: string[]): Promise<void> {
    const referenced = referencedDigests(this.options.index.all());
    for (const digest of added) {
      if (this.leases.count(digest) > 1 || referenced.has(digest)) continue;
      await this.options.store.delete(digest);
    }
  }
}

/** A regular file image-svc may read; the errors say what to fix. */
async function checkReadable(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidArgumentError(`import ${path}: not a regular file`);
    await access(path, constants.R_OK);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`import ${path}: no such file`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') {
      throw new FailedPreconditionError(
        `import ${path}: image-svc (uid ${process.getuid?.() ?? '?'}) cannot read it; make the file and its directories readable by the image-svc user`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Removes staging left by imports a crash interrupted (nothing of them was recorded). */
export async function clearStaging(stagingDir: string): Promise<void> {
  await rm(stagingDir, { recursive: true, force: true });
}
