// Container rootfs: one overlay mount per container over its image's layers. Owner: storage-svc.
// Layout `<root>/containers/<id>/{rootfs.json,upper,work,merged}`. Recovery assumptions: the
// record is written before the mount, so a dir without a record never reached a caller and is
// removed; a record whose mount vanished (reboot, manual umount) is mounted again by reconcile.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, KeyedLock, NotFoundError, fsyncDir, readJson, writeJsonAtomic } from '@crius/common';
import { EMPTY_LOWER, type LayerStore } from './layer-store.js';
import type { StorageOs } from './os.js';
import { overlayOptions } from './overlay-options.js';

export const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export interface RootfsRecord {
  version: 1;
  id: string;
  /** Image layers, bottom first (image config order). */
  diffIds: string[];
  readOnly: boolean;
  createdAt: string;
}

export interface RootfsInfo {
  id: string;
  rootfsPath: string;
  /** The writable layer (absent for a read-only rootfs). */
  upperDir?: string;
  diffIds: string[];
  readOnly: boolean;
  mounted: boolean;
  createdAt: string;
}

export interface RootfsReconcileReport {
  remounted: string[];
  /** Records the caller does not know (not in `knownContainerIds`): left in place, reported. */
  stale: string[];
  failed: { id: string; error: string }[];
  removedPartial: string[];
}

export function checkId(id: string, what = 'container id'): void {
  if (!ID_PATTERN.test(id)) throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(id)}`);
}

export class RootfsManager {
  readonly containersDir: string;
  private readonly mutex = new KeyedLock();

  constructor(
    root: string,
    private readonly layers: LayerStore,
    private readonly os: Pick<StorageOs, 'mountOverlay' | 'unmount' | 'mounts'>,
  ) {
    this.containersDir = join(root, 'containers');
  }

  async init(): Promise<void> {
    await mkdir(this.containersDir, { recursive: true, mode: 0o700 });
  }

  paths(id: string) {
    checkId(id);
    const dir = join(this.containersDir, id);
    return { dir, record: join(dir, 'rootfs.json'), upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
  }

  /** Creates and mounts the rootfs; the same call again returns the existing one (remounting if needed). */
  async create(id: string, diffIds: string[], opts: { readOnly?: boolean } = {}): Promise<{ rootfsPath: string; created: boolean }> {
    const p = this.paths(id);
    const readOnly = opts.readOnly ?? false;
    return this.mutex.run(id, async () => {
      const rec = await this.readRecord(id);
      if (rec) {
        if (rec.readOnly !== readOnly || rec.diffIds.join(',') !== diffIds.join(',')) {
          throw new AlreadyExistsError(`rootfs ${id} already exists with other layers or options`);
        }
        if (!(await this.isMounted(p.merged))) await this.mount(rec);
        return { rootfsPath: p.merged, created: false };
      }
      await this.discard(id); // leftover of a create that crashed before its record
      const record: RootfsRecord = { version: 1, id, diffIds: [...diffIds], readOnly, createdAt: new Date().toISOString() };
      await this.checkLayers(record);
      try {
        await mkdir(p.dir, { mode: 0o700 });
        await mkdir(p.merged, { mode: 0o755 });
        if (!readOnly) await this.makeUpper(record);
        await writeJsonAtomic(p.record, record);
        await this.mount(record);
      } catch (e) {
        await this.discard(id);
        throw e;
      }
      return { rootfsPath: p.merged, created: true };
    });
  }

  /** Unmounts and deletes; false if there was nothing. Idempotent. */
  async remove(id: string): Promise<boolean> {
    checkId(id);
    return this.mutex.run(id, () => this.discard(id));
  }

  async info(id: string): Promise<RootfsInfo | undefined> {
    const p = this.paths(id);
    const rec = await this.readRecord(id);
    if (!rec) return undefined;
    return {
      id, rootfsPath: p.merged, diffIds: rec.diffIds, readOnly: rec.readOnly, createdAt: rec.createdAt,
      mounted: await this.isMounted(p.merged),
      ...(rec.readOnly ? {} : { upperDir: p.upper }),
    };
  }

  /** The layers a rootfs is made of ([] when there is none). */
  async diffIdsOf(id: string): Promise<string[]> {
    return (await this.readRecord(id))?.diffIds ?? [];
  }

  async list(): Promise<RootfsRecord[]> {
    const out: RootfsRecord[] = [];
    for (const name of await readdir(this.containersDir)) {
      if (!ID_PATTERN.test(name)) continue;
      const rec = await this.readRecord(name);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** At start: drop partial dirs, remount records whose mount vanished, report unknown ones. */
  async reconcile(known?: ReadonlySet<string>): Promise<RootfsReconcileReport> {
    const report: RootfsReconcileReport = { remounted: [], stale: [], failed: [], removedPartial: [] };
    for (const name of await readdir(this.containersDir)) {
      if (name.startsWith('.trash-')) {
        await rm(join(this.containersDir, name), { recursive: true, force: true });
        continue;
      }
      if (!ID_PATTERN.test(name)) continue;
      await this.mutex.run(name, async () => {
        const rec = await this.readRecord(name);
        if (!rec) {
          await this.discard(name);
          report.removedPartial.push(name);
        } else if (known && !known.has(name)) {
          report.stale.push(name);
        } else if (!(await this.isMounted(this.paths(name).merged))) {
          try {
            await this.checkLayers(rec);
            await this.mount(rec);
            report.remounted.push(name);
          } catch (e) {
            report.failed.push({ id: name, error: (e as Error).message });
          }
        }
      });
    }
    return report;
  }

  private async readRecord(id: string): Promise<RootfsRecord | undefined> {
    try {
      const rec = await readJson<RootfsRecord>(this.paths(id).record);
      return rec?.version === 1 && rec.id === id ? rec : undefined;
    } catch {
      return undefined; // torn or foreign file: treated as a partial create
    }
  }

  private async checkLayers(rec: RootfsRecord): Promise<void> {
    if (rec.diffIds.length === 0) throw new InvalidArgumentError(`rootfs ${rec.id}: no layers given`);
    for (const d of rec.diffIds) {
      if (!(await this.layers.get(d))) throw new NotFoundError(`rootfs ${rec.id}: layer ${d} is not unpacked`);
    }
  }

  /** The upper dir takes the top layer's root mode and owner: overlay shows the upper's attributes at `/`. */
  private async makeUpper(rec: RootfsRecord): Promise<void> {
    const p = this.paths(rec.id);
    const top = await stat(this.layers.diffPath(rec.diffIds[rec.diffIds.length - 1]!));
    await mkdir(p.upper, { mode: 0o700 });
    await chown(p.upper, top.uid, top.gid);
    await chmod(p.upper, top.mode & 0o7777);
    await mkdir(p.work, { mode: 0o700 });
  }

  private async mount(rec: RootfsRecord): Promise<void> {
    const p = this.paths(rec.id);
    const opts = overlayOptions(
      {
        lowers: rec.diffIds.map((d) => this.layers.shortId(d)),
        emptyLower: EMPTY_LOWER,
        ...(rec.readOnly ? {} : { upper: p.upper, work: p.work }),
      },
      `rootfs ${rec.id}`,
    );
    await this.os.mountOverlay(p.merged, opts, this.layers.linksDir);
  }

  private async isMounted(path: string): Promise<boolean> {
    return (await this.os.mounts()).some((m) => m.mountPoint === path);
  }

  /**
   * Unmounts (every stacked mount) and deletes the container dir. A busy mount is detached
   * lazily: it leaves our namespace now and the kernel frees it when its last user (an open
   * file or cwd of a lingering process) goes; the container is being removed, so we don't wait.
   */
  private async discard(id: string): Promise<boolean> {
    const p = this.paths(id);
    try {
      await stat(p.dir);
    } catch {
      return false;
    }
    for (let i = 0; i < 16 && (await this.isMounted(p.merged)); i++) await this.os.unmount(p.merged);
    if (await this.isMounted(p.merged)) throw new FailedPreconditionError(`rootfs ${id}: ${p.merged} stays mounted`);
    const trash = join(this.containersDir, `.trash-${id}-${randomBytes(4).toString('hex')}`);
    await rename(p.dir, trash);
    await fsyncDir(this.containersDir);
    await rm(trash, { recursive: true, force: true });
    return true;
  }
}
