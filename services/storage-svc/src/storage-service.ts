// StorageService: storage-svc's one entry point (layers, rootfs mounts, fs usage); the bus adapter
// calls it. Owner: storage-svc. It never touches a path outside its `root`, and reads blobs only
// from under `contentRoot` (image-svc's store), checked on the opened file, not on the name.
import { constants as C } from 'node:fs';
import { mkdir, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, NotFoundError, Semaphore, SharedLock, mapLimit } from '@crius/common';
import { LayerStore, parseDiffId, type LayerReconcileReport, type LayerRecord } from './layer-store.js';
import { DEFAULT_MAX_LAYER_BYTES } from './layer-unpack.js';
import { commandOs, type MountInfo, type StorageOs } from './os.js';
import { RootfsManager, checkId, type RootfsInfo, type RootfsReconcileReport } from './rootfs.js';
import { DEFAULT_MAX_WALK_ENTRIES, byFilesystem, dirUsage, mountPointOf, type FsTotal } from './usage.js';

export interface StorageServiceOptions {
  /** State root, e.g. /var/lib/crius/storage. Must not contain `,` `:` or whitespace (overlay options). */
  root: string;
  /** image-svc's content store; layer blob paths must resolve under it. */
  contentRoot: string;
  /** Limit on one layer's uncompressed size (default 64 GiB). */
  maxLayerBytes?: number;
  /** Allow char/block device entries in layers (default: when running as root). */
  allowDevices?: boolean;
  /** Bound on entries visited by one usage walk (default 2,000,000). */
  maxWalkEntries?: number;
  os?: StorageOs;
}

export interface LayerInput {
  /** Digest of the (compressed) blob, recorded for information. */
  digest: string;
  /** sha256 of the uncompressed tar, from the image config; verified while unpacking. */
  diffId: string;
  mediaType: string;
  /** Absolute path of the blob under contentRoot. */
  path: string;
  /** Still being downloaded into `path`, to `size` bytes: unpacked as it arrives. */
  growing?: boolean;
  size?: number;
}

export interface EnsuredLayer {
  diffId: string;
  size: number;
  /** False when the layer was already stored (or unpacked by a concurrent call). */
  created: boolean;
}

export interface FsUsage extends FsTotal {
  timestampNs: bigint;
}

/** CRI ImageFsInfo, one entry per filesystem. */
export interface ImageFsUsage {
  /** Unpacked layers and image-svc's content store. */
  imageFilesystems: FsUsage[];
  /** Writable layers of every container. */
  containerFilesystems: FsUsage[];
}

export interface StorageReconcileReport {
  layers: LayerReconcileReport;
  rootfs: RootfsReconcileReport;
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Layers unpacked at once by storage-svc, whoever asked. */
const UNPACK_CONCURRENCY = 3;

export class StorageService {
  private readonly gcLock = new SharedLock();
  /** Layer unpacks running at once, over all callers. */
  private readonly unpackSlots = new Semaphore(UNPACK_CONCURRENCY);
  /**
   * Layers some image needed at image-svc's last collection, plus every layer unpacked since;
   * unknown (undefined) until image-svc first collects after this process started. A layer
   * outside it that only a removed container used is garbage (see removeRootfs).
   */
  private imageLayers?: Set<string>;

  private constructor(
    readonly root: string,
    private readonly contentRoot: string,
    private readonly layers: LayerStore,
    private readonly rootfs: RootfsManager,
    private readonly os: StorageOs,
    private readonly maxWalkEntries: number,
  ) {}

  /** Creates the directory layout; call reconcile() before serving requests. */
  static async open(opts: StorageServiceOptions): Promise<StorageService> {
    if (!isAbsolute(opts.root) || !isAbsolute(opts.contentRoot)) {
      throw new InvalidArgumentError(`storage root ${opts.root} and content root ${opts.contentRoot} must be absolute`);
    }
    const maxLayerBytes = opts.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES;
    if (!Number.isSafeInteger(maxLayerBytes) || maxLayerBytes <= 0) throw new InvalidArgumentError(`maxLayerBytes ${maxLayerBytes} must be a positive integer`);
    await mkdir(opts.root, { recursive: true, mode: 0o700 });
    const root = await realpath(opts.root);
    if (/[,:\s\\]/.test(root)) throw new InvalidArgumentError(`storage root ${JSON.stringify(root)} must not contain , : \\ or whitespace (overlay options)`);
    const os = opts.os ?? commandOs;
    const layers = new LayerStore({ root, maxLayerBytes, allowDevices: opts.allowDevices, os });
    const rootfs = new RootfsManager(root, layers, os);
    await layers.init();
    await rootfs.init();
    return new StorageService(root, resolve(opts.contentRoot), layers, rootfs, os, opts.maxWalkEntries ?? DEFAULT_MAX_WALK_ENTRIES);
  }

  /** Unpacks each layer once (in order), verifying its diffID. */
  async ensureLayers(layers: LayerInput[]): Promise<EnsuredLayer[]> {
    for (const l of layers) {
      parseDiffId(l.diffId);
      if (!DIGEST.test(l.digest)) throw new InvalidArgumentError(`invalid blob digest ${JSON.stringify(l.digest)}`);
      if (!isAbsolute(l.path)) throw new InvalidArgumentError(`blob path ${JSON.stringify(l.path)} must be absolute`);
      if (l.growing && !(Number.isSafeInteger(l.size) && l.size! > 0)) throw new InvalidArgumentError(`growing blob ${l.digest} needs its size`);
    }
    return this.gcLock.withShared(async () => {
      for (const l of layers) this.imageLayers?.add(l.diffId);
      // Layers are independent (overlay stacks them at mount time): unpack a few at once,
      // counted across calls (a pull sends each layer as soon as it has downloaded it).
      const out: EnsuredLayer[] = new Array(layers.length);
      await mapLimit([...layers.entries()], layers.length, async ([i, l]) => {
        const { record, created } = await this.unpackSlots.run(() =>
          this.layers.ensure(l.diffId, {
            mediaType: l.mediaType,
            digest: l.digest,
            label: `${l.digest} (diffID ${l.diffId})`,
            open: () => this.openBlob(l.path),
            growingSize: l.growing ? l.size : undefined,
          }),
        );
        out[i] = { diffId: record.diffId, size: record.size, created };
      });
      return out;
    });
  }

  async listLayers(): Promise<LayerRecord[]> {
    return this.layers.list();
  }

  /** Mounts a container rootfs over `diffIds` (bottom layer first); idempotent per id. */
  async createRootfs(id: string, diffIds: string[], opts: { readOnly?: boolean } = {}): Promise<{ rootfsPath: string }> {
    checkId(id);
    diffIds.forEach(parseDiffId);
    return this.gcLock.withShared(async () => {
      const { rootfsPath } = await this.rootfs.create(id, diffIds, opts);
      return { rootfsPath };
    });
  }

  /**
   * Unmounts and deletes a rootfs; removing an unknown id succeeds (kubelet retries). Layers
   * that only this container still used (its image was removed while it existed, as CRI lets
   * RemoveImage do) are collected now rather than at image-svc's next collection.
   */
  async removeRootfs(id: string): Promise<{ removed: boolean }> {
    checkId(id);
    const diffIds = this.imageLayers ? await this.rootfs.diffIdsOf(id) : [];
    const removed = await this.rootfs.remove(id);
    const orphans = diffIds.filter((d) => this.imageLayers && !this.imageLayers.has(d));
    // The rootfs is gone either way; a layer left by a failure here goes at the next GcLayers.
    if (orphans.length > 0) await this.collectOrphans(orphans).catch(() => undefined);
    return { removed };
  }

  async rootfsInfo(id: string): Promise<RootfsInfo> {
    checkId(id);
    const info = await this.rootfs.info(id);
    if (!info) throw new NotFoundError(`rootfs ${id} not found`);
    return info;
  }

  /** Removes layers neither in `referencedDiffIds` (images) nor used by any container rootfs. */
  async gcLayers(referencedDiffIds: Iterable<string>): Promise<{ removed: string[] }> {
    return this.gcLock.withExclusive(async () => {
      this.imageLayers = new Set(referencedDiffIds);
      const keep = new Set(this.imageLayers);
      for (const rec of await this.rootfs.list()) rec.diffIds.forEach((d) => keep.add(d));
      return { removed: await this.layers.gc(keep) };
    });
  }

  /**
   * CRI ImageFsInfo: the image filesystems hold the unpacked layers (and their short links) and
   * image-svc's content store; the container filesystems hold the containers' writable layers
   * (an overlay mounted inside is another filesystem, so a walk never enters it).
   */
  async imageFsUsage(): Promise<ImageFsUsage> {
    const timestampNs = nowNs();
    const mounts = await this.os.mounts();
    const measure = async (dirs: string[]) =>
      byFilesystem(await Promise.all(dirs.map((d) => this.measure(d, mounts)))).map((u) => ({ ...u, timestampNs }));
    const [imageFilesystems, containerFilesystems] = await Promise.all([
      measure([this.layers.layersDir, this.layers.linksDir, this.contentRoot]),
      measure([this.rootfs.containersDir]),
    ]);
    return { imageFilesystems, containerFilesystems };
  }

  /** Usage of a container's writable layer (zero for a read-only rootfs). */
  async containerUsage(id: string): Promise<FsUsage> {
    const info = await this.rootfsInfo(id);
    if (!info.upperDir) {
      return { timestampNs: nowNs(), mountpoint: await mountPointOf(this.root, await this.os.mounts()), usedBytes: 0, inodesUsed: 0, truncated: false };
    }
    return this.usage(info.upperDir);
  }

  /** Start-up recovery: layer leftovers and links, then rootfs mounts. */
  async reconcile(knownContainerIds?: Iterable<string>): Promise<StorageReconcileReport> {
    const known = knownContainerIds ? new Set(knownContainerIds) : undefined;
    return this.gcLock.withExclusive(async () => ({
      layers: await this.layers.reconcile(),
      rootfs: await this.rootfs.reconcile(known),
    }));
  }

  private async usage(dir: string): Promise<FsUsage> {
    const timestampNs = nowNs();
    return { timestampNs, ...(await this.measure(dir, await this.os.mounts())) };
  }

  private async measure(dir: string, mounts: MountInfo[]): Promise<FsTotal> {
    const u = await dirUsage(dir, this.maxWalkEntries);
    return { mountpoint: await mountPointOf(dir, mounts), usedBytes: u.bytes, inodesUsed: u.inodes, truncated: u.truncated };
  }

  /** Removes those of `candidates` that neither an image (as last known) nor another container needs. */
  private async collectOrphans(candidates: string[]): Promise<void> {
    await this.gcLock.withExclusive(async () => {
      const keep = new Set(this.imageLayers);
      for (const rec of await this.rootfs.list()) rec.diffIds.forEach((d) => keep.add(d));
      for (const d of candidates) if (!keep.has(d)) await this.layers.remove(d);
    });
  }

  /**
   * Opens a blob without following a final symlink, then checks where the opened file really
   * is (/proc/self/fd), so no name trick or swapped parent directory reaches outside contentRoot.
   */
  private async openBlob(path: string): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await open(path, C.O_RDONLY | C.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NotFoundError(`layer blob ${path} not found`, { cause: e });
      throw new InvalidArgumentError(`layer blob ${path}: cannot open (${code ?? (e as Error).message})`, { cause: e });
    }
    try {
      const content = await realpath(this.contentRoot);
      const real = await readlink(`/proc/self/fd/${fh.fd}`);
      if (!real.startsWith(`${content}/`)) throw new InvalidArgumentError(`layer blob ${path} is outside the content root ${this.contentRoot}`);
      if (!(await fh.stat()).isFile()) throw new InvalidArgumentError(`layer blob ${path} is not a regular file`);
      return fh;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
