// A private sub-cgroup for one ExecSync, so that everything the command
// starts can be found and killed, and nothing else. Owned by runtime-svc.
//
// Why a cgroup: the exec'd process lives in the container's PID namespace,
// so its orphans (a daemonizing child, `setsid cmd &`) are re-parented to
// the container's init and no longer look like the command's; a process
// group misses anything that calls setsid. A cgroup is inherited on fork and
// a contained process cannot leave it (the container's cgroupfs is read-only
// unless it is privileged), so "every process in <container>/crius-exec-X"
// is exactly "every process of the command", never the container's own.
// runc and crun put the exec there themselves (`exec --cgroup <leaf>`), before
// the command runs. The leaf is made in every hierarchy the container is in,
// so resource accounting still counts it against the container (limits are
// hierarchical).
//
// Kill: v2 `cgroup.kill`; else freeze (v1 freezer, v2 cgroup.freeze), SIGKILL
// every member, thaw; then SIGKILL whatever is still listed until the cgroup
// is empty (a process killed while forking leaves no child behind, so this
// converges), then rmdir.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cgroupHierarchies, cgroupVersion, CGROUP_ROOT } from '@crius/common';

/** Prefix of exec leaves; recovery removes leftovers by it. */
export const EXEC_CGROUP_PREFIX = 'crius-exec-';

/**
 * The container's cgroup directory in each hierarchy, from its init's
 * /proc/<pid>/cgroup ("<id>:<controllers>:<path>" lines). On v1 a hierarchy
 * directory is named after its controllers ("cpu,cpuacct", "memory") or its
 * name ("systemd" for "name=systemd"); the v2 one in a hybrid setup is
 * "unified" (id 0, no controllers).
 */
export function containerCgroupDirs(procCgroup: string, hierarchies: string[], v2: boolean): string[] {
  const lines = procCgroup
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, controllers, ...rest] = l.split(':');
      return { id, controllers: controllers ?? '', path: rest.join(':') };
    });
  const dirs: string[] = [];
  for (const root of hierarchies) {
    const name = path.basename(root);
    const line = v2
      ? lines.find((l) => l.id === '0' && l.controllers === '')
      : lines.find((l) => (l.controllers !== '' && (l.controllers === name || l.controllers === `name=${name}`)) || (name === 'unified' && l.id === '0' && l.controllers === ''));
    if (!line || !line.path.startsWith('/') || line.path.split('/').includes('..')) continue;
    dirs.push(path.join(root, line.path));
  }
  return dirs;
}

export class ExecCgroup {
  private constructor(
    /** What `runc exec --cgroup` takes: the leaf name under the container's cgroup. */
    readonly leaf: string,
    /** The leaf's directory in every hierarchy. */
    readonly dirs: string[],
  ) {}

  /** Makes a fresh leaf under the cgroups of the container whose init is `containerPid`. */
  static async create(containerPid: number, root = CGROUP_ROOT): Promise<ExecCgroup> {
    const v2 = cgroupVersion(root) === 2;
    const parents = containerCgroupDirs(await readFile(`/proc/${containerPid}/cgroup`, 'utf8'), await cgroupHierarchies(root), v2).filter((d) => existsSync(d));
    if (parents.length === 0) throw new Error(`no cgroup of process ${containerPid} found under ${root}`);
    const leaf = `${EXEC_CGROUP_PREFIX}${randomBytes(6).toString('hex')}`;
    const cg = new ExecCgroup(leaf, []);
    try {
      // The hierarchies are independent: made side by side (this is on every ExecSync's path).
      await Promise.all(
        parents.map(async (parent) => {
          const dir = path.join(parent, leaf);
          await mkdir(dir);
          cg.dirs.push(dir);
          // A v1 cpuset starts empty and refuses tasks: give it the parent's.
          if (!v2 && existsSync(path.join(parent, 'cpuset.cpus'))) {
            for (const f of ['cpuset.cpus', 'cpuset.mems']) await writeFile(path.join(dir, f), await readFile(path.join(parent, f), 'utf8'));
          }
        }),
      );
    } catch (err) {
      await cg.remove(0);
      throw new Error(`make exec cgroup ${leaf} for process ${containerPid}: ${(err as Error).message}`, { cause: err });
    }
    return cg;
  }

  /**
   * Leaves left by ExecSyncs that were running when runtime-svc went down:
   * their caller got no answer and waits no more, so recovery kills them.
   */
  static async leftovers(containerPid: number, root = CGROUP_ROOT): Promise<ExecCgroup[]> {
    const text = await readFile(`/proc/${containerPid}/cgroup`, 'utf8').catch(() => '');
    const parents = containerCgroupDirs(text, await cgroupHierarchies(root), cgroupVersion(root) === 2);
    const byLeaf = new Map<string, string[]>();
    for (const parent of parents) {
      for (const e of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory() && e.name.startsWith(EXEC_CGROUP_PREFIX)) byLeaf.set(e.name, [...(byLeaf.get(e.name) ?? []), path.join(parent, e.name)]);
      }
    }
    return [...byLeaf].map(([leaf, dirs]) => new ExecCgroup(leaf, dirs));
  }

  /** PIDs in the leaf (one hierarchy is enough: a process is in each of them). */
  async pids(): Promise<number[]> {
    return readPids(this.dirs[0]);
  }

  /** Kills every process of the command and removes the leaf; resolves once it is empty (or after `waitMs`). */
  async kill(waitMs = 10_000): Promise<void> {
    const until = Date.now() + waitMs;
    if (!(await this.killByKernel())) await this.freezeAndKill(until);
    while (Date.now() < until) {
      const left = await this.pids();
      if (left.length === 0) break;
      for (const pid of left) signal(pid);
      await delay(20);
    }
    await this.remove(Math.max(0, until - Date.now()));
  }

  /**
   * The command ended on its own: what it left running (a daemon it
   * started on purpose) is handed to the container's own cgroup, as CRI-O and
   * containerd leave it running, and the leaf is removed.
   */
  async release(waitMs = 5000): Promise<void> {
    const until = Date.now() + waitMs;
    await Promise.all(
      this.dirs.map(async (dir) => {
        for (let left = await readPids(dir); left.length > 0 && Date.now() < until; left = await readPids(dir)) {
          for (const pid of left) await writeFile(path.join(path.dirname(dir), 'cgroup.procs'), `${pid}\n`).catch(() => undefined);
        }
      }),
    );
    await this.remove(Math.max(0, until - Date.now()));
  }

  /** rmdir in every hierarchy; a leaf whose last process is still exiting is retried until `waitMs`. */
  async remove(waitMs = 3000): Promise<void> {
    const until = Date.now() + waitMs;
    await Promise.all(
      this.dirs.map(async (dir) => {
        for (;;) {
          const code = await rmdir(dir).then(
            () => 'ok',
            (e: NodeJS.ErrnoException) => e.code,
          );
          if (code !== 'EBUSY' || Date.now() >= until) break;
          await delay(20);
        }
      }),
    );
  }

  /** v2's cgroup.kill: the kernel kills every member, and new children too, in one step. */
  private async killByKernel(): Promise<boolean> {
    const dir = this.dirs.find((d) => existsSync(path.join(d, 'cgroup.kill')));
    if (!dir) return false;
    return writeFile(path.join(dir, 'cgroup.kill'), '1').then(
      () => true,
      () => false,
    );
  }

  /** Freeze so nothing forks between listing and killing; kill; thaw so the kills are delivered. */
  private async freezeAndKill(until: number): Promise<void> {
    const v1 = this.dirs.find((d) => existsSync(path.join(d, 'freezer.state')));
    const v2 = this.dirs.find((d) => existsSync(path.join(d, 'cgroup.freeze')));
    const freezer = v1 ? { dir: v1, file: 'freezer.state', on: 'FROZEN', off: 'THAWED' } : v2 ? { dir: v2, file: 'cgroup.freeze', on: '1', off: '0' } : undefined;
    if (!freezer) return;
    const file = path.join(freezer.dir, freezer.file);
    if (!(await writeFile(file, freezer.on).then(() => true, () => false))) return;
    try {
      while (Date.now() < until && !(await frozen(freezer.dir, !!v1))) await delay(10);
      for (const pid of await readPids(freezer.dir)) signal(pid);
    } finally {
      await writeFile(file, freezer.off).catch(() => undefined);
    }
  }
}

/** v1: freezer.state reads FROZEN; v2: cgroup.events has "frozen 1". */
async function frozen(dir: string, v1: boolean): Promise<boolean> {
  if (v1) return (await readFile(path.join(dir, 'freezer.state'), 'utf8').catch(() => '')).trim() === 'FROZEN';
  return /^frozen 1$/m.test(await readFile(path.join(dir, 'cgroup.events'), 'utf8').catch(() => ''));
}

async function readPids(dir: string | undefined): Promise<number[]> {
  if (!dir) return [];
  const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number).filter((n) => n > 0);
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
