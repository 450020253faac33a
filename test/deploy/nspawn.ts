// A throwaway Debian machine booted with systemd as PID 1 (systemd-nspawn),
// for the boot test of deploy/: a debootstrapped rootfs cached once per host,
// an overlay per test so the cache stays clean, commands run inside with
// nsenter (no machined here). Owner: deploy/ (issue 10).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

export const ROOTFS_CACHE = '/var/cache/crius-test/rootfs-bookworm';
const MIRROR = 'http://deb.debian.org/debian';

export function haveTools(): string | undefined {
  for (const tool of ['systemd-nspawn', 'debootstrap', 'nsenter']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/setup-node.sh installs it)`;
  }
  return undefined;
}

/** The cached minimal Debian with systemd; made by debootstrap on first use (about a minute). */
export function ensureRootfs(): string {
  const done = path.join(ROOTFS_CACHE, '.crius-complete');
  if (existsSync(done)) return ROOTFS_CACHE;
  const partial = `${ROOTFS_CACHE}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(path.dirname(ROOTFS_CACHE), { recursive: true });
  const r = spawnSync('debootstrap', ['--variant=minbase', '--include=systemd,systemd-sysv,dbus', 'bookworm', partial, MIRROR], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`debootstrap bookworm into ${partial} failed (${r.status}): ${(r.stdout + r.stderr).slice(-2000)}`);
  execFileSync('touch', [path.join(partial, '.crius-complete')]);
  rmSync(ROOTFS_CACHE, { recursive: true, force: true });
  renameSync(partial, ROOTFS_CACHE);
  return ROOTFS_CACHE;
}

/** An overlay of the cached rootfs under dir/merged; writes go to dir/upper. */
export function overlayRoot(dir: string, lower: string): string {
  for (const d of ['upper', 'work', 'merged']) mkdirSync(path.join(dir, d), { recursive: true });
  const merged = path.join(dir, 'merged');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, merged]);
  return merged;
}

export class Machine {
  private leaderPid?: number;

  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  /** Boots root with its own network namespace (only loopback), node and nats-server bound in from the host. */
  static boot(root: string, logFile: string, binds: Record<string, string>): Machine {
    const args = ['-D', root, '--boot', '--register=no', '--keep-unit', '--private-network', '--console=passive'];
    for (const [host, inside] of Object.entries(binds)) args.push(`--bind-ro=${host}:${inside}`);
    const out = openSync(logFile, 'w');
    const child = spawn('systemd-nspawn', args, { stdio: ['ignore', out, out] });
    return new Machine(child, logFile);
  }

  /** PID (on the host) of the machine's systemd. */
  async leader(timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (this.leaderPid === undefined) {
      const r = spawnSync('pgrep', ['-P', String(this.child.pid)], { encoding: 'utf8' });
      // nspawn's short-lived helper children come and go while it starts: any
      // child may be gone by the time we look at it.
      for (const pid of r.stdout.split('\n').map(Number).filter((p) => p > 0)) {
        if (commOf(pid) === 'systemd') this.leaderPid = pid;
      }
      if (this.leaderPid !== undefined) break;
      if (Date.now() > until) throw new Error(`systemd-nspawn (pid ${this.child.pid}) started no systemd; log: ${this.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return this.leaderPid;
  }

  /** Runs a shell command inside the machine; returns stdout, throws with stderr on failure. */
  sh(command: string, timeoutMs = 60_000): string {
    if (this.leaderPid === undefined) throw new Error('machine not booted: await leader() first');
    const r = spawnSync('nsenter', ['-t', String(this.leaderPid), '-a', 'sh', '-c', command], {
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    });
    if (r.status !== 0) throw new Error(`in machine: ${command}: exit ${r.status}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  async waitFor(what: string, check: () => boolean, timeoutMs: number, diagnose: () => string): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (check()) return;
      } catch {
        // not yet
      }
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${diagnose()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }

  /** Halts the machine (SIGTERM asks systemd-nspawn for a clean poweroff), SIGKILL after timeoutMs. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
