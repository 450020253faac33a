// Filesystem usage for CRI ImageFsInfo (layers, content store, writable layers) and container stats
// (one writable layer). Owner: storage-svc.
// Walks with lstat only (never follows a symlink or crosses into another filesystem), iteratively,
// and stops after `maxEntries` so one huge tree cannot stall the service; `truncated` says so.
import { lstat, readdir, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { MountInfo } from './os.js';

export interface DirUsage {
  /** Allocated bytes (st_blocks × 512), each hardlinked inode counted once. */
  bytes: number;
  inodes: number;
  truncated: boolean;
}

export const DEFAULT_MAX_WALK_ENTRIES = 2_000_000;

export async function dirUsage(dir: string, maxEntries = DEFAULT_MAX_WALK_ENTRIES): Promise<DirUsage> {
  const out: DirUsage = { bytes: 0, inodes: 0, truncated: false };
  let top;
  try {
    top = await lstat(dir, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  const seen = new Set<bigint>();
  const count = (st: { blocks: bigint; nlink: bigint; ino: bigint }) => {
    if (st.nlink > 1n) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    out.bytes += Number(st.blocks) * 512;
    out.inodes++;
  };
  count(top);
  if (!top.isDirectory()) return out;
  const stack = [dir];
  let visited = 1;
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we walked
      throw e;
    }
    for (const name of names) {
      if (++visited > maxEntries) {
        out.truncated = true;
        return out;
      }
      const path = join(d, name);
      let st;
      try {
        st = await lstat(path, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      if (st.dev !== top.dev) continue; // a mount point inside: not our usage
      count(st);
      if (st.isDirectory()) stack.push(path);
    }
  }
  return out;
}

/**
 * The mount point of the filesystem holding `path` (longest matching mount point); for a path
 * that does not exist (yet), of the filesystem it would be made on.
 */
export async function mountPointOf(path: string, mounts: MountInfo[]): Promise<string> {
  const real = await existingRealpath(path);
  let best = '/';
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = real === mp || real.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (inside && mp.length > best.length) best = mp;
  }
  return best;
}

async function existingRealpath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (e) {
    const parent = dirname(path);
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw e;
    return existingRealpath(parent);
  }
}

/** Usage of one directory tree, or the sum of several on one filesystem. */
export interface FsTotal {
  /** Mount point of the filesystem holding it (CRI FilesystemIdentifier). */
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
  /** Some walk hit its bound; the numbers are a lower bound. */
  truncated: boolean;
}

/**
 * One entry per filesystem, in the order each first appears: CRI identifies a filesystem by its
 * mount point, so two trees on one filesystem must not be reported as two filesystems.
 */
export function byFilesystem(parts: readonly FsTotal[]): FsTotal[] {
  const out = new Map<string, FsTotal>();
  for (const p of parts) {
    const sum = out.get(p.mountpoint);
    if (!sum) out.set(p.mountpoint, { ...p });
    else {
      sum.usedBytes += p.usedBytes;
      sum.inodesUsed += p.inodesUsed;
      sum.truncated ||= p.truncated;
    }
  }
  return [...out.values()];
}
