// Test harness for crius-conmon: builds busybox bundles, starts a monitor
// (ours or Debian's conmon) with the sync/start pipes, reads CRI logs back,
// and cleans up every container, process and directory it created.
// Used by native/conmon/test/*.test.ts.
import { execFile, execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import { BUILD_DIR, CONMON_DIR, readIfExists, waitFor } from './basics.js';
import { launch, type Launch, type SyncMessage, type SyncReader } from './monitor-process.js';

export * from './basics.js';
export * from './crilog.js';
export * from './monitor-process.js';

const execFileP = promisify(execFile);

export const DEBIAN_CONMON = '/usr/bin/conmon';
export const RUNC = '/usr/sbin/runc';

/** The monitor under test: CRIUS_CONMON_BIN (e.g. the ASan build) or build/crius-conmon. */
export function monitorBinary(): string {
  const fromEnv = process.env.CRIUS_CONMON_BIN;
  return fromEnv ? resolve(fromEnv) : join(BUILD_DIR, 'crius-conmon');
}

/** Builds the monitor under test and the attach client (make is incremental). */
export function buildBinaries(): void {
  const targets = ['all', 'test-tools'];
  const bin = monitorBinary();
  if (bin.startsWith(BUILD_DIR + '/')) targets.push(bin.slice(CONMON_DIR.length + 1));
  execFileSync('make', ['-s', '-C', CONMON_DIR, ...targets], { stdio: ['ignore', 'ignore', 'inherit'] });
}

const APPLETS = ['sh', 'cat', 'echo', 'sleep', 'stty', 'dd', 'printf', 'head', 'tr', 'kill', 'tty', 'seq', 'true'];

export interface BundleOptions {
  args: string[];
  terminal?: boolean;
  /** linux.resources.memory.limit (and swap) in bytes. */
  memoryLimit?: number;
  /** Run in the host PID namespace, so SIGTERM's default action applies to the init. */
  hostPidNamespace?: boolean;
}

export interface Container {
  id: string;
  bundle: string;
  log: string;
  pidfile: string;
  conmonPidfile: string;
  persistDir: string;
}

export function randomId(prefix = 'crius-test'): string {
  return `${prefix}-${Math.random().toString(16).slice(2, 14)}`;
}

/** Writes a busybox rootfs and a config.json made by `runc spec`, then edited. */
export async function makeBundle(dir: string, opts: BundleOptions): Promise<void> {
  const bin = join(dir, 'rootfs', 'bin');
  await mkdir(bin, { recursive: true });
  await copyFile('/bin/busybox', join(bin, 'busybox'));
  await chmod(join(bin, 'busybox'), 0o755);
  await Promise.all(APPLETS.map((a) => symlink('busybox', join(bin, a))));
  await execFileP(RUNC, ['spec', '--bundle', dir]);
  const specPath = join(dir, 'config.json');
  const spec = JSON.parse(await readFile(specPath, 'utf8'));
  spec.process.args = opts.args;
  spec.process.terminal = opts.terminal ?? false;
  spec.process.env = ['PATH=/bin', 'TERM=xterm'];
  // Root here lacks CAP_SYS_RESOURCE: a lower oomScoreAdj than ours makes runc fail.
  delete spec.process.oomScoreAdj;
  if (opts.memoryLimit !== undefined) {
    spec.linux.resources.memory = { limit: opts.memoryLimit, swap: opts.memoryLimit };
  }
  if (opts.hostPidNamespace) {
    spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
  }
  await writeFile(specPath, JSON.stringify(spec, null, 2));
}

/**
 * A private world for one test file: temp dir, its own runc state root, exit
 * and socket dirs. cleanup() deletes every container and kills every monitor
 * it started, then removes the directory.
 */
export class TestEnv {
  readonly runcRoot: string;
  readonly exitDir: string;
  readonly socketDir: string;
  private readonly ids: string[] = [];
  private readonly pids: number[] = [];
  private readonly readers: SyncReader[] = [];

  private constructor(readonly root: string) {
    this.runcRoot = join(root, 'runc');
    this.exitDir = join(root, 'exits');
    this.socketDir = join(root, 'socks');
  }

  static async create(): Promise<TestEnv> {
    const env = new TestEnv(await mkdtemp(join(tmpdir(), 'crius-conmon-')));
    await Promise.all([env.runcRoot, env.exitDir, env.socketDir, join(env.root, 'asan')].map((d) => mkdir(d)));
    return env;
  }

  /** Environment for monitors: sanitizer reports land in <root>/asan. */
  sanitizerEnv(): Record<string, string> {
    const log = join(this.root, 'asan', 'report');
    return { ASAN_OPTIONS: `log_path=${log}`, UBSAN_OPTIONS: `log_path=${log}:print_stacktrace=1` };
  }

  async sanitizerReports(): Promise<string[]> {
    const dir = join(this.root, 'asan');
    const names = await readdir(dir);
    return Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
  }

  async container(opts: BundleOptions, idPrefix = 'crius-test'): Promise<Container> {
    const id = randomId(idPrefix);
    const dir = join(this.root, id);
    const persistDir = join(dir, 'persist');
    await mkdir(persistDir, { recursive: true });
    await makeBundle(join(dir, 'bundle'), opts);
    this.ids.push(id);
    return {
      id,
      bundle: join(dir, 'bundle'),
      log: join(dir, 'ctr.log'),
      pidfile: join(dir, 'ctr.pid'),
      conmonPidfile: join(dir, 'conmon.pid'),
      persistDir,
    };
  }

  /** The flags runtime-svc passes for a container (conmon's spelling). */
  createArgs(c: Container, extra: string[] = []): string[] {
    return [
      '-c', c.id, '-u', c.id, '-n', c.id,
      '-r', RUNC, '--runtime-arg', `--root=${this.runcRoot}`,
      '-b', c.bundle, '-p', c.pidfile, '-P', c.conmonPidfile,
      '-l', c.log, '--exit-dir', this.exitDir, '--socket-dir-path', this.socketDir,
      '--persist-dir', c.persistDir, '--log-level', 'info', '--syslog',
      ...extra,
    ];
  }

  /** Starts a monitor for c and returns its launch after the pid message. */
  async create(
    bin: string,
    c: Container,
    extra: string[] = [],
  ): Promise<{ launch: Launch; pid: number; monitorPid: number; message: SyncMessage }> {
    const l = await launch(bin, this.createArgs(c, extra), { extraEnv: this.sanitizerEnv() });
    this.readers.push(l.sync);
    const msg = await l.sync.next();
    if (typeof msg.pid !== 'number' || msg.pid <= 0) {
      throw new Error(`create ${c.id} failed: ${JSON.stringify(msg)} (stderr: ${l.stderr})`);
    }
    const monitorPid = Number(await readFile(c.conmonPidfile, 'utf8'));
    this.pids.push(monitorPid);
    return { launch: l, pid: msg.pid, monitorPid, message: msg };
  }

  track(monitorPid: number, reader?: SyncReader): void {
    this.pids.push(monitorPid);
    if (reader) this.readers.push(reader);
  }

  trackReader(reader: SyncReader): void {
    this.readers.push(reader);
  }

  async runc(...args: string[]): Promise<string> {
    const { stdout } = await execFileP(RUNC, [`--root=${this.runcRoot}`, ...args]);
    return stdout;
  }

  async start(c: Container): Promise<void> {
    await this.runc('start', c.id);
  }

  /** Waits for <exit-dir>/<id> and returns its content. */
  async exitCode(c: Container, timeoutMs = 15_000): Promise<string> {
    return waitFor(`exit file of ${c.id}`, () => readIfExists(join(this.exitDir, c.id)), timeoutMs);
  }

  async cleanup(): Promise<void> {
    for (const id of this.ids) {
      await execFileP(RUNC, [`--root=${this.runcRoot}`, 'delete', '-f', id]).catch(() => undefined);
    }
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone: the normal case
      }
    }
    this.readers.forEach((r) => r.destroy());
    await rm(this.root, { recursive: true, force: true });
  }
}


/**
 * One TestEnv per test file: binaries built and the env created before the file's tests,
 * cleaned up after them, and no sanitizer report allowed. `use` receives the env.
 */
export function useTestEnv(use: (env: TestEnv) => void): void {
  let env: TestEnv | undefined;
  beforeAll(async () => {
    buildBinaries();
    env = await TestEnv.create();
    use(env);
  });
  afterAll(async () => {
    if (!env) return;
    const reports = await env.sanitizerReports();
    await env.cleanup();
    expect(reports).toEqual([]);
  });
}
