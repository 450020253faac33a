// Where cgroups live on this host: the cgroupfs mount, whether it is v2
// (one unified hierarchy) or v1 (one hierarchy per controller, plus named
// ones like "systemd"), and the hierarchy roots a process is placed in.
// Used by runtime-svc (conmon placement), monitor-svc (stats), the CLI demo's
// cleanup and the tests' cleanup.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export type CgroupVersion = 1 | 2;

/** v2 when the mount has cgroup.controllers (the unified hierarchy), else v1. */
export function cgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  return existsSync(path.join(root, 'cgroup.controllers')) ? 2 : 1;
}

/** The hierarchy roots: the mount itself on v2, each hierarchy directory under it on v1. */
export async function cgroupHierarchies(root = CGROUP_ROOT): Promise<string[]> {
  if (cgroupVersion(root) === 2) return [root];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => path.join(root, e.name));
}
