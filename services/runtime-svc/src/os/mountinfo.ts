// /proc/self/mountinfo (proc(5)): which mount holds a path and how it
// propagates, for the mount checks runtime-svc makes before a container
// joins a host path. Parsing and lookup are pure; readMountInfo reads ours.
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  id: number;
  parentId: number;
  /** Where it is mounted (escapes like \040 undone). */
  mountPoint: string;
  /** Optional fields: "shared:N", "master:N", "propagate_from:N", "unbindable". */
  optional: string[];
  fsType: string;
  source: string;
}

/** The kernel escapes space, tab, newline and backslash as three octal digits. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse mountinfo text; lines that do not have the documented shape are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      mountPoint: unescapeMountField(f[4]!),
      optional: f.slice(6, sep).filter(Boolean),
      fsType: f[sep + 1]!,
      source: unescapeMountField(f[sep + 2]!),
    });
  }
  return out;
}

function within(path: string, mountPoint: string): boolean {
  if (mountPoint === '/') return path.startsWith('/');
  return path === mountPoint || path.startsWith(mountPoint + '/');
}

/**
 * The mount an absolute, symlink-free path lives on: the deepest mount
 * point above it; of mounts stacked on one point, the last listed (the
 * one on top).
 */
export function mountContaining(path: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    if (within(path, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export type Propagation = 'shared' | 'slave' | 'private';

/** A mount that is both shared and a slave counts as shared (it sends mounts on). */
export function propagationOf(m: MountInfo): Propagation {
  if (m.optional.some((o) => o.startsWith('shared:'))) return 'shared';
  if (m.optional.some((o) => o.startsWith('master:'))) return 'slave';
  return 'private';
}

export async function readMountInfo(file = '/proc/self/mountinfo'): Promise<MountInfo[]> {
  return parseMountInfo(await readFile(file, 'utf8'));
}

/**
 * Why a host path cannot back a mount with this CRI propagation, or
 * undefined when it can: Bidirectional needs the path's mount shared,
 * HostToContainer shared or slave (containerd's and CRI-O's checks).
 */
export function propagationProblem(hostPath: string, wanted: 'rshared' | 'rslave', mounts: readonly MountInfo[]): string | undefined {
  const m = mountContaining(hostPath, mounts);
  if (!m) return `host path "${hostPath}" is on no mount we can see`;
  const p = propagationOf(m);
  if (wanted === 'rshared' && p !== 'shared') {
    return `host path "${hostPath}" is on mount "${m.mountPoint}", which is ${p}, not shared (Bidirectional propagation needs a shared mount)`;
  }
  if (wanted === 'rslave' && p === 'private') {
    return `host path "${hostPath}" is on mount "${m.mountPoint}", which is private, not shared or slave (HostToContainer propagation needs one of them)`;
  }
  return undefined;
}
