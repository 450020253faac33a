// Unpacked layers keyed by diffID: `<root>/layers/<hex>/{diff,layer.json}` plus a short link
// `<root>/l/<26 hex>` → `../layers/<hex>/diff` that keeps overlay mount options short. Owner: storage-svc.
// Recovery assumptions: a layer dir exists only once complete (built in `.tmp-*`, renamed in);
// `.tmp-*`/`.trash-*` dirs are crash leftovers; links are derived data and rebuilt from records.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { fsyncDir, readJson, writeJsonAtomic } from '@crius/common';
import { unpackLayer } from './layer-unpack.js';
import type { StorageOs } from './os.js';

export interface LayerRecord {
  version: 1;
  diffId: string;
  /** Digest of the blob it was unpacked from (informational: one diffID, many compressions). */
  digest?: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Name of its link under `<root>/l`, used as the overlay lowerdir. */
  shortId: string;
  createdAt: string;
}

export interface LayerSource {
  mediaType: string;
  digest?: string;
  /** Opens the blob; called only when the layer is not stored yet. */
  open(): Promise<FileHandle>;
  label?: string;
  /** The blob is still being downloaded: its final size (see UnpackOptions.growingSize). */
  growingSize?: number;
}

export interface LayerStoreOptions {
  root: string;
  maxLayerBytes?: number;
  allowDevices?: boolean;
  os?: Pick<StorageOs, 'mknod' | 'setXattr'>;
}

export interface LayerReconcileReport {
  removedPartial: string[];
  relinked: string[];
  removedLinks: string[];
}

const DIFF_ID = /^sha256:([0-9a-f]{64})$/;
const SHORT_LEN = 26; // 104 bits of the digest: no accidental clash, 27 bytes per lowerdir
/** An always-empty directory in `l/`, the lower of a rootfs whose image has no layers. */
export const EMPTY_LOWER = '_empty';

export function parseDiffId(diffId: string): string {
  const m = DIFF_ID.exec(diffId);
  if (!m) throw new InvalidArgumentError(`invalid diffID ${JSON.stringify(diffId)} (want sha256:<64 hex>)`);
  return m[1]!;
}

export class LayerStore {
  readonly layersDir: string;
  readonly linksDir: string;
  private readonly inflight = new Map<string, Promise<LayerRecord>>();

  constructor(private readonly opts: LayerStoreOptions) {
    this.layersDir = join(opts.root, 'layers');
    this.linksDir = join(opts.root, 'l');
  }

  async init(): Promise<void> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.linksDir, EMPTY_LOWER), { recursive: true, mode: 0o755 });
  }

  shortId(diffId: string): string {
    return parseDiffId(diffId).slice(0, SHORT_LEN);
  }

  diffPath(diffId: string): string {
    return join(this.layersDir, parseDiffId(diffId), 'diff');
  }

  async get(diffId: string): Promise<LayerRecord | undefined> {
    const hex = parseDiffId(diffId);
    try {
      const rec = await readJson<LayerRecord>(join(this.layersDir, hex, 'layer.json'));
      return rec?.version === 1 && rec.diffId === diffId ? rec : undefined;
    } catch {
      return undefined; // unreadable record: treated as absent, reconcile removes it
    }
  }

  /** Unpacks the layer once; concurrent calls for one diffID share a single unpack. */
  async ensure(diffId: string, source: LayerSource): Promise<{ record: LayerRecord; created: boolean }> {
    parseDiffId(diffId);
    const running = this.inflight.get(diffId);
    if (running) return { record: await running, created: false };
    let created = false;
    const p = this.getOrUnpack(diffId, source, () => (created = true));
    this.inflight.set(diffId, p);
    try {
      return { record: await p, created };
    } finally {
      this.inflight.delete(diffId);
    }
  }

  async list(): Promise<LayerRecord[]> {
    const out: LayerRecord[] = [];
    for (const name of await readdir(this.layersDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const rec = await this.get(`sha256:${name}`);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Deletes a layer (rename first, so a crash never leaves half a layer under its name). */
  async remove(diffId: string): Promise<boolean> {
    const hex = parseDiffId(diffId);
    if (this.inflight.has(diffId)) throw new FailedPreconditionError(`layer ${diffId} is being unpacked`);
    const trash = join(this.layersDir, `.trash-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    let existed = true;
    try {
      await rename(join(this.layersDir, hex), trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      existed = false;
    }
    await rm(join(this.linksDir, hex.slice(0, SHORT_LEN)), { force: true });
    if (!existed) return false;
    await fsyncDir(this.layersDir);
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** Removes every stored layer not in `keep` (and not being unpacked); returns their diffIDs. */
  async gc(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const rec of await this.list()) {
      if (keep.has(rec.diffId) || this.inflight.has(rec.diffId)) continue;
      if (await this.remove(rec.diffId)) removed.push(rec.diffId);
    }
    return removed;
  }

  /** Cleans crash leftovers and rebuilds missing or wrong links. */
  async reconcile(): Promise<LayerReconcileReport> {
    const report: LayerReconcileReport = { removedPartial: [], relinked: [], removedLinks: [] };
    const valid = new Set<string>();
    for (const name of await readdir(this.layersDir)) {
      if (/^[0-9a-f]{64}$/.test(name)) {
        if (this.inflight.has(`sha256:${name}`)) continue;
        const rec = await this.get(`sha256:${name}`);
        if (rec) {
          valid.add(rec.shortId);
          if (await this.link(rec)) report.relinked.push(rec.diffId);
          continue;
        }
      } else if (!name.startsWith('.tmp-') && !name.startsWith('.trash-')) continue;
      else if (name.startsWith('.tmp-') && this.inflight.size > 0) continue; // may be a live unpack
      await rm(join(this.layersDir, name), { recursive: true, force: true });
      report.removedPartial.push(name);
    }
    for (const name of await readdir(this.linksDir)) {
      if (name === EMPTY_LOWER || valid.has(name)) continue;
      if ([...this.inflight.keys()].some((d) => d.startsWith(`sha256:${name}`))) continue; // link comes soon
      await rm(join(this.linksDir, name), { force: true, recursive: true });
      report.removedLinks.push(name);
    }
    return report;
  }

  private async getOrUnpack(diffId: string, source: LayerSource, markCreated: () => void): Promise<LayerRecord> {
    const existing = await this.get(diffId);
    if (existing) {
      await this.link(existing);
      return existing;
    }
    const hex = parseDiffId(diffId);
    const work = await mkdtemp(join(this.layersDir, `.tmp-${hex.slice(0, 12)}-`));
    try {
      const fh = await source.open();
      let size: number;
      try {
        const r = await unpackLayer(fh, join(work, 'diff'), {
          mediaType: source.mediaType,
          expectedDiffId: diffId,
          maxLayerBytes: this.opts.maxLayerBytes,
          allowDevices: this.opts.allowDevices,
          os: this.opts.os,
          label: source.label ?? diffId,
          growingSize: source.growingSize,
        });
        size = r.size;
      } finally {
        await fh.close();
      }
      const record: LayerRecord = {
        version: 1, diffId, size, shortId: hex.slice(0, SHORT_LEN), createdAt: new Date().toISOString(),
        ...(source.digest ? { digest: source.digest } : {}),
      };
      await writeJsonAtomic(join(work, 'layer.json'), record);
      // A dir under the final name without a readable record is a broken leftover.
      await rm(join(this.layersDir, hex), { recursive: true, force: true });
      await rename(work, join(this.layersDir, hex));
      await fsyncDir(this.layersDir);
      await this.link(record);
      markCreated();
      return record;
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }

  /** Makes `l/<shortId>` point at the layer's diff dir; true if it had to be (re)made. */
  private async link(rec: LayerRecord): Promise<boolean> {
    const path = join(this.linksDir, rec.shortId);
    const want = join('..', 'layers', parseDiffId(rec.diffId), 'diff');
    try {
      if ((await lstat(path)).isSymbolicLink() && (await readlink(path)) === want) return false;
      await rm(path, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await symlink(want, path);
    return true;
  }
}
