// Pinned network namespaces: one nsfs bind mount per sandbox at <dir>/<name>.
// Owned by network-svc. Node cannot setns/mount, so the Linux implementation
// drives util-linux (`unshare --net=FILE`, `umount`) through a CommandRunner.
import { mkdir, open, readFile, readdir, realpath, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, InternalError } from '@crius/common';
import { runCommand, runChecked, type CommandRunner } from './command.js';
import { KeyedLock } from '@crius/common';

export const DEFAULT_NETNS_DIR = '/run/crius/netns';

export interface NetnsEntry {
  name: string;
  path: string;
  /** False for a leftover file whose mount is gone (crash between touch and mount). */
  pinned: boolean;
}

export interface NetnsManager {
  readonly dir: string;
  pathOf(name: string): string;
  /** Creates and pins the namespace with lo up; returns its path. Idempotent. */
  create(name: string): Promise<string>;
  /** Unpins and unlinks; a missing namespace is not an error. */
  remove(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  list(): Promise<NetnsEntry[]>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

export function checkNetnsName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new InvalidArgumentError(`invalid network namespace name ${JSON.stringify(name)}: want [A-Za-z0-9_.-], no '..'`);
  }
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** Parses /proc/self/mountinfo (proc(5)): field 5 is the mount point, fstype follows " - ". */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 5 || sep < 0) continue;
    out.push({ mountPoint: unescapeOctal(fields[4]!), fsType: fields[sep + 1] ?? '' });
  }
  return out;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface LinuxNetnsOptions {
  dir?: string;
  run?: CommandRunner;
  readMountInfo?: () => Promise<string>;
}

export class LinuxNetnsManager implements NetnsManager {
  readonly dir: string;
  private readonly run: CommandRunner;
  private readonly readMountInfo: () => Promise<string>;
  private readonly lock = new KeyedLock();
  private dirReady?: Promise<void>;

  constructor(opts: LinuxNetnsOptions = {}) {
    this.dir = resolve(opts.dir ?? DEFAULT_NETNS_DIR);
    this.run = opts.run ?? runCommand;
    this.readMountInfo = opts.readMountInfo ?? (() => readFile('/proc/self/mountinfo', 'utf8'));
  }

  pathOf(name: string): string {
    checkNetnsName(name);
    return join(this.dir, name);
  }

  async create(name: string): Promise<string> {
    const path = this.pathOf(name);
    await this.prepareDir();
    return this.lock.run(name, async () => {
      if (await this.isPinned(path)) return path;
      try {
        // The bind target must exist before unshare mounts over it.
        await (await open(path, 'a', 0o444)).close();
        await runChecked(this.run, 'unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up']);
      } catch (err) {
        await this.unpinAndUnlink(path).catch(() => {});
        throw new InternalError(`create network namespace ${path}: ${(err as Error).message}`, { cause: err });
      }
      return path;
    });
  }

  async remove(name: string): Promise<void> {
    const path = this.pathOf(name);
    await this.lock.run(name, async () => {
      try {
        await this.unpinAndUnlink(path);
      } catch (err) {
        throw new InternalError(`remove network namespace ${path}: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  async exists(name: string): Promise<boolean> {
    return this.isPinned(this.pathOf(name));
  }

  async list(): Promise<NetnsEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const pinned = await this.pinnedPaths();
    return names
      .filter((n) => NAME_RE.test(n))
      .sort()
      .map((name) => ({ name, path: join(this.dir, name), pinned: pinned.has(join(this.dir, name)) }));
  }

  private async unpinAndUnlink(path: string): Promise<void> {
    // Bind mounts can stack (a racing create elsewhere); peel them all.
    for (let i = 0; i < 8 && (await this.isPinned(path)); i++) {
      await runChecked(this.run, 'umount', [path]);
    }
    if (await this.isPinned(path)) throw new Error(`still mounted after umount`);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private async isPinned(path: string): Promise<boolean> {
    return (await this.pinnedPaths()).has(path);
  }

  private async pinnedPaths(): Promise<Set<string>> {
    const mounts = parseMountInfo(await this.readMountInfo());
    return new Set(mounts.filter((m) => m.fsType === 'nsfs').map((m) => m.mountPoint));
  }

  /**
   * Makes the dir a shared mount point of its own, as `ip netns` does: the
   * nsfs mounts below then propagate (mount and umount) into mount namespaces
   * created later, so a container's copy never keeps a namespace alive.
   */
  private prepareDir(): Promise<void> {
    this.dirReady ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      const real = await realpath(this.dir);
      if (real !== this.dir) throw new InvalidArgumentError(`netns dir ${this.dir} must not be a symlink (resolves to ${real})`);
      const mounts = parseMountInfo(await this.readMountInfo());
      if (!mounts.some((m) => m.mountPoint === this.dir)) {
        await runChecked(this.run, 'mount', ['--bind', this.dir, this.dir]);
      }
      await runChecked(this.run, 'mount', ['--make-rshared', this.dir]);
    })().catch((err: unknown) => {
      this.dirReady = undefined;
      throw new InternalError(`prepare netns dir ${this.dir}: ${(err as Error).message}`, { cause: err });
    });
    return this.dirReady;
  }
}
