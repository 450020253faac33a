// bench/peers/containerd: the peer runtime for the benches — the host's
// containerd (with its CRI plugin) started as our child with a private config:
// own root/state/socket, own CNI bridge and subnet, the loopback registry as a
// plain-HTTP mirror. stop() leaves nothing behind (pods, shims, mounts, bridge, dirs).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultBridgeConfig } from '@crius/network-svc';
import { cleanupHost } from '../../test/harness/stack.js';
import { CriDriver, removeAllPods, waitForCri } from '../lib-cri.js';
import { listProcs, withArg, type ProcInfo } from '../procs.js';

const run = promisify(execFile);
const CONTAINERD = '/usr/bin/containerd';
/** The runc shim puts its sockets here whatever our state dir is (compiled-in default). */
const SHIM_SOCKET_DIR = '/run/containerd/s';
const CNI_CACHE_DIR = '/var/lib/cni';

export interface ContainerdOptions {
  /** host:port of the loopback registry, made a plain-HTTP mirror of itself. */
  registryHost: string;
  /** Image ref of the pod sandbox (pause) image. */
  sandboxImage: string;
  logLevel?: string;
}

export interface ContainerdPeer {
  dir: string;
  socket: string;
  pid: number;
  bridge: string;
  subnet: string;
  /** containerd-shim-runc-v2 processes serving this containerd. */
  shims(procs?: ProcInfo[]): Promise<ProcInfo[]>;
  stop(): Promise<void>;
}

/** The first 10.90.N.0/24 no host route uses yet, so we never collide with crius's 10.89.x.0/24 or others. */
async function freeSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-4', 'route', 'show']);
  const start = randomBytes(1)[0]!;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (!stdout.includes(`10.90.${n}.`)) return `10.90.${n}.0/24`;
  }
  throw new Error('no free 10.90.N.0/24 subnet for the containerd bench bridge');
}

function configToml(dir: string, opts: ContainerdOptions): string {
  const cri = '[plugins."io.containerd.grpc.v1.cri"]';
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
# Not set: lowering the score needs CAP_SYS_RESOURCE, which we lack.
oom_score = 0
# Snapshotters we do not use, and /opt/containerd. (The legacy v1 runtime
# stays: 1.6's tasks service, which CRI needs, will not load without it.)
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

${cri}
  sandbox_image = "${opts.sandboxImage}"
  # Containers may not get a lower oom_score_adj than containerd's own (we cannot lower it).
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_concurrent_downloads = 3

  ${cri.slice(0, -1)}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    ${cri.slice(0, -1)}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      ${cri.slice(0, -1)}.containerd.runtimes.runc.options]
        Root = "${dir}/runc"
        SystemdCgroup = false

  ${cri.slice(0, -1)}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
    max_conf_num = 1

  ${cri.slice(0, -1)}.registry.mirrors."${opts.registryHost}"]
    endpoint = ["http://${opts.registryHost}"]

[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "${dir}/runc-v1"
`;
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: socket });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitSocket(socket: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}) before serving ${socket}:\n${log.slice(-3000)}`);
    }
    if (await canConnect(socket)) return;
    await sleep(50);
  }
  throw new Error(`containerd socket ${socket} not ready after ${timeoutMs} ms (log: ${logFile})`);
}

async function listDir(dir: string): Promise<Set<string>> {
  return new Set(await readdir(dir).catch(() => []));
}

export async function startContainerd(opts: ContainerdOptions): Promise<ContainerdPeer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-bench-ctrd-'));
  const tag = randomBytes(3).toString('hex');
  const bridge = `ctb${tag}`;
  const subnet = await freeSubnet();
  const socket = path.join(dir, 'containerd.sock');
  const logFile = path.join(dir, 'containerd.log');
  // The same plugin chain crius installs (bridge + host-local + portmap), on our own bridge and leases dir.
  const cni = defaultBridgeConfig(subnet, { name: `ctrd-bench-${tag}`, bridge, dataDir: path.join(dir, 'ipam') });
  await mkdir(path.join(dir, 'cni'), { recursive: true });
  await writeFile(path.join(dir, 'cni', '10-bench.conflist'), JSON.stringify(cni, null, 2));
  await writeFile(path.join(dir, 'config.toml'), configToml(dir, opts));
  const shimSocketsBefore = await listDir(SHIM_SOCKET_DIR);
  const shimDirExisted = existsSync(SHIM_SOCKET_DIR);
  const cniCacheExisted = existsSync(CNI_CACHE_DIR);

  const fd = openSync(logFile, 'a');
  const child = spawn(CONTAINERD, ['--config', path.join(dir, 'config.toml'), '--log-level', opts.logLevel ?? 'info'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    const driver = new CriDriver(socket);
    if (child.exitCode === null && child.signalCode === null) {
      await removeAllPods(driver).catch((err) => console.error(`containerd cleanup: ${(err as Error).message}`));
    }
    driver.close();
    await terminate(child, exited);
    await killShims(socket);
    await forceDeleteContainers(path.join(dir, 'runc'));
    await removeNewShimSockets(shimSocketsBefore, shimDirExisted);
    await removeCniCacheDirs(cniCacheExisted);
    await cleanupHost(dir, bridge);
  };

  try {
    await waitSocket(socket, child, logFile, 30_000);
    const driver = new CriDriver(socket);
    try {
      await waitForCri(driver, 15_000, `containerd (log: ${logFile})`);
    } finally {
      driver.close();
    }
  } catch (err) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    const criErrors = log.split('\n').filter((l) => /level=(error|warning|fatal)/.test(l)).slice(-10).join('\n');
    await stop();
    throw new Error(`containerd did not start:\n${criErrors}`, { cause: err });
  }
  return {
    dir,
    socket,
    pid: child.pid!,
    bridge,
    subnet,
    shims: async (procs) => withArg(procs ?? (await listProcs()), '-address', socket),
    stop,
  };
}

/** SIGTERM by PID, SIGKILL after 10 s. */
async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  process.kill(child.pid!, 'SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }
}

/** Shims outlive containerd by design; ours are the ones given our socket as -address. */
async function killShims(socket: string): Promise<void> {
  const shims = withArg(await listProcs(), '-address', socket);
  for (const s of shims) signal(s.pid, 'SIGTERM');
  await sleep(shims.length ? 500 : 0);
  for (const s of withArg(await listProcs(), '-address', socket)) signal(s.pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Safety net for containers whose pods could not be removed: runc kill + delete in our runc root. */
async function forceDeleteContainers(runcRoot: string): Promise<void> {
  for (const ns of await readdir(runcRoot).catch(() => [])) {
    const root = path.join(runcRoot, ns);
    const { stdout } = await run('runc', ['--root', root, 'list', '-q']).catch(() => ({ stdout: '' }));
    for (const id of stdout.split('\n').filter(Boolean)) await run('runc', ['--root', root, 'delete', '--force', id]).catch(() => undefined);
  }
}

/** Shim sockets our run created in the shared /run/containerd/s, and those dirs if we made them and they are empty. */
async function removeNewShimSockets(before: Set<string>, dirsExisted: boolean): Promise<void> {
  for (const name of await listDir(SHIM_SOCKET_DIR)) {
    if (!before.has(name)) await rm(path.join(SHIM_SOCKET_DIR, name), { force: true });
  }
  if (dirsExisted) return;
  await rmdir(SHIM_SOCKET_DIR).catch(() => undefined);
  await rmdir(path.dirname(SHIM_SOCKET_DIR)).catch(() => undefined);
}

/** libcni's result cache dir (/var/lib/cni/results): entries go on CNI DEL; the empty dirs go if we made them. */
async function removeCniCacheDirs(existed: boolean): Promise<void> {
  if (existed) return;
  await rmdir(path.join(CNI_CACHE_DIR, 'results')).catch(() => undefined);
  await rmdir(CNI_CACHE_DIR).catch(() => undefined);
}
