// What a sandbox needs from the OS, behind an interface so the sandbox flow
// is testable without root: pinned IPC/UTS namespaces (bind mounts of nsfs
// files in a private mount, made by unshare), the pod's /dev/shm tmpfs.
import { mkdir, open, rm } from 'node:fs/promises';
import { readMountInfo } from './mountinfo.js';
import { run } from './exec.js';

export interface SandboxOs {
  /** Make a directory a private mount of itself, once, so namespace pins under it do not propagate. */
  preparePinDir(dir: string): Promise<void>;
  /** New IPC and/or UTS namespaces pinned at the given files; the UTS one gets the hostname. */
  pinNamespaces(pins: { ipc?: string; uts?: string }, hostname: string): Promise<void>;
  unpin(file: string): Promise<void>;
  mountShm(dir: string, sizeBytes: number): Promise<void>;
  unmount(dir: string): Promise<void>;
  isMounted(path: string): Promise<boolean>;
}

async function mountPoints(): Promise<Set<string>> {
  return new Set((await readMountInfo()).map((m) => m.mountPoint));
}

async function touch(file: string): Promise<void> {
  await (await open(file, 'a')).close();
}

export class LinuxSandboxOs implements SandboxOs {
  async preparePinDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    if (!(await this.isMounted(dir))) await run('mount', ['--bind', dir, dir]);
    await run('mount', ['--make-private', dir]);
  }

  async pinNamespaces(pins: { ipc?: string; uts?: string }, hostname: string): Promise<void> {
    const args: string[] = [];
    for (const [kind, file] of Object.entries(pins)) {
      if (!file) continue;
      await touch(file);
      args.push(`--${kind}=${file}`);
    }
    if (!args.length) return;
    // hostname runs inside the new UTS namespace before it is pinned for good.
    await run('unshare', [...args, ...(pins.uts ? ['hostname', hostname] : ['true'])]);
  }

  async unpin(file: string): Promise<void> {
    if (await this.isMounted(file)) await run('umount', [file]).catch(() => run('umount', ['-l', file]));
    await rm(file, { force: true });
  }

  async mountShm(dir: string, sizeBytes: number): Promise<void> {
    await mkdir(dir, { recursive: true });
    if (await this.isMounted(dir)) return;
    await run('mount', ['-t', 'tmpfs', '-o', `rw,nosuid,nodev,noexec,mode=1777,size=${sizeBytes}`, 'shm', dir]);
  }

  async unmount(dir: string): Promise<void> {
    if (!(await this.isMounted(dir))) return;
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
  }

  async isMounted(path: string): Promise<boolean> {
    return (await mountPoints()).has(path);
  }
}
