// Placing a process (a container's conmon) in the pod's cgroup, so it lives
// outside runtime-svc's own cgroup and a restart of the service never takes
// it down, in every hierarchy (v1: each controller's and the named ones; v2:
// the unified one).
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cgroupHierarchies } from '@crius/common';

function safeRelative(cgroup: string): string {
  const rel = path.posix.normalize('/' + cgroup).slice(1);
  if (rel.split('/').includes('..')) throw new Error(`cgroup path ${cgroup} escapes the hierarchy`);
  return rel;
}

/** Put pid into `<parent>/<leaf>` of every hierarchy; returns the dirs it made use of. */
export async function placeInCgroup(pid: number, parent: string, leaf: string): Promise<string[]> {
  const rel = path.join(safeRelative(parent), leaf);
  const roots = await cgroupHierarchies();
  const used: string[] = [];
  for (const root of roots) {
    const dir = path.join(root, rel);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'cgroup.procs'), `${pid}\n`);
      used.push(dir);
    } catch {
      // A hierarchy that refuses (e.g. a v1 controller mounted read-only) is skipped.
    }
  }
  return used;
}

/**
 * Remove the leaf cgroups made by placeInCgroup. Their process may still be
 * on its way out (conmon exits just after a failed create), so a busy cgroup
 * is retried for a short while.
 */
export async function removeCgroup(parent: string, leaf: string, waitMs = 3000): Promise<void> {
  const rel = path.join(safeRelative(parent), leaf);
  const roots = await cgroupHierarchies();
  const until = Date.now() + waitMs;
  for (const root of roots) {
    for (;;) {
      const code = await rmdir(path.join(root, rel)).then(
        () => 'ok',
        (e: NodeJS.ErrnoException) => e.code,
      );
      if (code !== 'EBUSY' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
