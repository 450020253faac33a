// The CNI results cache: one durable JSON record per attachment (network +
// container id + ifname) holding the exact config and args of the ADD and,
// once it finished, its result, so DEL and CHECK get what ADD used and
// returned, across restarts. Owned by network-svc.
//
// Crash safety: the record is written in state "adding" BEFORE the netns and
// the ADD exist, and rewritten as "added" with the result after. Whatever the
// process dies in between, teardown finds the record and runs DEL with the
// same config (without prevResult), which releases the IPAM lease.
import { readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeFileDurable, writeJsonAtomic } from '@crius/common';
import type { CapabilityArgs, NetworkConfigList } from './cni-types.js';
import { checkNetnsName } from './netns.js';

export const CACHE_VERSION = 1;

export interface AttachmentKey {
  network: string;
  containerId: string;
  ifName: string;
}

export interface AttachmentRecord extends AttachmentKey {
  version: typeof CACHE_VERSION;
  state: 'adding' | 'added';
  netnsPath: string;
  /** The network config list exactly as the ADD used it (after pod CIDR substitution). */
  config: NetworkConfigList;
  cniArgs: Array<[string, string]>;
  capabilityArgs: CapabilityArgs;
  /** The raw result of the last plugin's ADD, in the config's cniVersion; set in state "added". */
  result?: unknown;
  updatedAt: string;
}

export interface CacheListing {
  records: AttachmentRecord[];
  /** Files that could not be read as a record (path: why). */
  corrupt: Array<{ path: string; error: string }>;
}

const FILE_RE = /^[A-Za-z0-9_.-]+\.json$/;

function isRecord(v: unknown): v is AttachmentRecord {
  const r = v as Partial<AttachmentRecord> | null;
  return (
    typeof r === 'object' && r !== null && r.version === CACHE_VERSION && (r.state === 'adding' || r.state === 'added') &&
    typeof r.network === 'string' && typeof r.containerId === 'string' && typeof r.ifName === 'string' &&
    typeof r.config === 'object' && Array.isArray(r.config?.plugins)
  );
}

export class CniCache {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(resolve(cacheDir), 'results');
  }

  private containerDir(containerId: string): string {
    checkNetnsName(containerId);
    return join(this.dir, containerId);
  }

  pathOf(key: AttachmentKey): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(key.ifName)) throw new Error(`invalid interface name ${JSON.stringify(key.ifName)}`);
    return join(this.containerDir(key.containerId), `${key.network}_${key.ifName}.json`);
  }

  async put(record: Omit<AttachmentRecord, 'version' | 'updatedAt'>): Promise<AttachmentRecord> {
    const full: AttachmentRecord = { ...record, version: CACHE_VERSION, updatedAt: new Date().toISOString() };
    await writeJsonAtomic(this.pathOf(full), full);
    return full;
  }

  async remove(key: AttachmentKey): Promise<void> {
    await removeFileDurable(this.pathOf(key));
    // The per-container dir goes once empty; ENOTEMPTY/ENOENT just mean "not yet".
    await rmdir(this.containerDir(key.containerId)).catch(() => {});
  }

  /** Drops everything left for a container (corrupt files, stray temp files) once its attachments are gone. */
  async removeContainer(containerId: string): Promise<void> {
    await rm(this.containerDir(containerId), { recursive: true, force: true });
  }

  async list(containerId: string): Promise<CacheListing> {
    const dir = this.containerDir(containerId);
    const out: CacheListing = { records: [], corrupt: [] };
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => FILE_RE.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const v: unknown = JSON.parse(await readFile(path, 'utf8'));
        if (!isRecord(v) || v.containerId !== containerId) throw new Error('not a version 1 attachment record for this container');
        out.records.push(v);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        out.corrupt.push({ path, error: (err as Error).message });
      }
    }
    return out;
  }

  /** Container (sandbox) ids that have at least one cache file. */
  async containerIds(): Promise<string[]> {
    try {
      return (await readdir(this.dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
