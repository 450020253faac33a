// Placing a process (a container's conmon) in the pod's cgroup, so it lives
// outside runtime-svc's own cgroup and a restart of the service never takes
// it down. cgroup v1 (one hierarchy per controller) and v2 (unified) are
// detected once.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type CgroupVersion = 1 | 2;

const ROOT = '/sys/fs/cgroup';

export function cgroupVersion(): CgroupVersion {
  return existsSync(path.join(ROOT, 'cgroup.controllers')) ? 2 : 1;
}

/** The hierarchies a v1 process is placed in (named ones like "systemd" included). */
async function v1Hierarchies(): Promise<string[]> {
  const entries = await readdir(ROOT, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => path.join(ROOT, e.name));
}

function safeRelative(cgroup: string): string {
  const rel = path.posix.normalize('/' + cgroup).slice(1);
  if (rel.split('/').includes('..')) throw new Error(`cgroup path ${cgroup} escapes the hierarchy`);
  return rel;
}

/** Put pid into `<parent>/<leaf>` of every hierarchy; returns the dirs it made use of. */
export async function placeInCgroup(pid: number, parent: string, leaf: string): Promise<string[]> {
  const rel = path.join(safeRelative(parent), leaf);
  const roots = cgroupVersion() === 2 ? [ROOT] : await v1Hierarchies();
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
  const roots = cgroupVersion() === 2 ? [ROOT] : await v1Hierarchies();
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
