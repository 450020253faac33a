// Test harness: a whole crius stack in a private temp dir with its own NATS
// port and CRI socket, started from the built services, torn down after.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BUS_USERS, cgroupHierarchies, credentialsDir, parseConfig, readCredential, type CriusConfig } from '@crius/common';
import { Stack } from '../../services/cli/src/launcher/stack.js';
import { connectCri, type CriClient } from '../../services/cli/src/cri-client.js';
import { afterAll, beforeAll } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import { callCri, rawClient } from './raw-cri.js';

export interface TestStack {
  dir: string;
  config: CriusConfig;
  configPath: string;
  stack: Stack;
  cri: CriClient;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestConfig {
  dir: string;
  config: CriusConfig;
  configPath: string;
  /** The stack's private CNI bridge (removed by cleanupHost). */
  bridge: string;
}

/**
 * A private crius.toml in a fresh temp dir: own NATS port, socket, CNI dir, bridge and subnet,
 * and image settings that read nothing of the host's /etc/containers (a signature policy of
 * its own accepting anything, no registries.conf, no auth file). `image` sets [image] keys
 * (raw TOML values) over those.
 */
export async function makeTestConfig(extraToml = '', image: Record<string, string> = {}): Promise<TestConfig> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-test-'));
  await writeFile(path.join(dir, 'policy.json'), '{"default": [{"type": "insecureAcceptAnything"}]}\n');
  const imageKeys: Record<string, string> = {
    // Tests never leave the machine: short names are not searched on docker.io.
    unqualified_search_registries: '[]',
    signature_policy: JSON.stringify(path.join(dir, 'policy.json')),
    registries_conf: '""',
    global_auth_file: '""',
    ...image,
  };
  const port = await freePort();
  const tag = randomBytes(3).toString('hex');
  const bridge = `crt${tag}`;
  const toml = `[log]
level = "debug"
[state]
root = "${dir}/lib"
run_root = "${dir}/run"
[api]
listen = "${dir}/run/crius.sock"
metrics_address = "127.0.0.1:${await freePort()}"
streaming_address = "127.0.0.1:${await freePort()}"
[bus]
address = "127.0.0.1:${port}"
[image]
${Object.entries(imageKeys).map(([k, v]) => `${k} = ${v}`).join('\n')}
[network]
cni_conf_dirs = ["${dir}/cni"]
netns_dir = "${dir}/run/netns"
default_bridge = "${bridge}"
default_subnet = "10.89.${parseInt(tag.slice(0, 2), 16)}.0/24"
${extraToml}`;
  const configPath = path.join(dir, 'crius.toml');
  await writeFile(configPath, toml);
  const config = parseConfig(toml, configPath);
  return { dir, config, configPath, bridge };
}

export interface StackTestOptions {
  /** Refusals a test provokes on purpose ("bus user launcher, Subject \"crius.v1.image.PullImage\""); any other fails stop(). */
  expectedRefusals?: readonly RegExp[];
  /** [image] keys of the generated config. */
  image?: Record<string, string>;
}

/** Start a private stack; `extraToml` is appended to the generated config. */
export async function startStack(extraToml = '', opts: StackTestOptions = {}): Promise<TestStack> {
  const { dir, config, configPath, bridge } = await makeTestConfig(extraToml, opts.image);
  const stack = new Stack({ config, configPath });
  try {
    await stack.start();
  } catch (err) {
    await stack.stop();
    await cleanupHost(dir, bridge);
    throw err;
  }
  const cri = connectCri(config.api.listen);
  return {
    dir,
    config,
    configPath,
    stack,
    cri,
    async stop() {
      await removeAllPods(config.api.listen).catch(() => undefined);
      cri.close();
      await stack.stop();
      const violations = (await busViolations(stack.logDir, credentialsDir(config)).catch((err: Error) => [`cannot read the nats-server log: ${err.message}`])).filter(
        (v) => !opts.expectedRefusals?.some((re) => re.test(v)),
      );
      await cleanupHost(dir, bridge);
      if (violations.length) throw new Error(`nats-server refused a bus call the grants table does not grant (services/common/src/bus/grants.ts):\n${violations.join('\n')}`);
    },
  };
}

/**
 * The permission violations nats-server logged for this stack, with each nkey
 * named by its bus user: every flow a test drove ran under the production
 * permissions, so any line here is code calling something it is not granted.
 */
async function busViolations(logDir: string, credDir: string): Promise<string[]> {
  const text = await readFile(path.join(logDir, 'nats.log'), 'utf8');
  const lines = text.split('\n').filter((l) => / - (Publish|Subscription) Violation - /.test(l));
  if (!lines.length) return [];
  const names = new Map<string, string>();
  for (const u of BUS_USERS) names.set((await readCredential(credDir, u)).publicKey, u);
  return lines.map((l) => l.replace(/Nkey "(U[A-Z2-7]{55})"/, (m, key: string) => `bus user ${names.get(key) ?? m}`));
}

const run = promisify(execFile);

/**
 * Last resort when a test failed badly (e.g. the gateway died, so pods could
 * not be removed through CRI): kill, by PID, the monitors started for this
 * stack (their command line names its dir) and the containers under them.
 */
async function killStackMonitors(dir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmd.includes('conmon') || !cmd.includes(dir + '/')) continue;
    const kids = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    for (const kid of kids.split(' ').filter(Boolean)) await run('kill', ['-9', kid]).catch(() => undefined);
    await run('kill', ['-9', pid]).catch(() => undefined);
  }
}

/** Remove what a test stack can leave on the host: monitors, mounts under its dir, its bridge, the dir. */
export async function cleanupHost(dir: string, bridge: string): Promise<void> {
  await killStackMonitors(dir);
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
  await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  await removeCgroupTree(`crius-e2e-${path.basename(dir)}`);
  await rm(dir, { recursive: true, force: true });
}

/** Safety net after a failing test: remove every pod the stack still has, as kubelet would. */
async function removeAllPods(socket: string): Promise<void> {
  const client = rawClient(socket);
  try {
    const list = await callCri(client, 'ListPodSandbox', {});
    if (!list.ok) return;
    for (const p of (list.reply as { items: { id: string }[] }).items) await callCri(client, 'RemovePodSandbox', { podSandboxId: p.id }, 30_000);
  } finally {
    client.close();
  }
}

/** rmdir a test's cgroup subtree in every hierarchy, deepest first (all processes are gone by now). */
async function removeCgroupTree(name: string): Promise<void> {
  for (const root of await cgroupHierarchies()) {
    const top = path.join(root, name);
    const dirs: string[] = [];
    const walk = async (d: string): Promise<void> => {
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      dirs.push(d);
      for (const e of entries) if (e.isDirectory()) await walk(path.join(d, e.name));
    };
    await walk(top);
    for (const d of dirs.reverse()) await rmdir(d).catch(() => undefined);
  }
}

/**
 * A private stack and a raw CRI client for this test file: started before its tests
 * (handed to `use`), closed and stopped after them.
 */
export function useStack(use: (stack: TestStack, client: Client) => void): void {
  let stack: TestStack | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    stack = await startStack();
    client = rawClient(stack.config.api.listen);
    use(stack, client);
  });
  afterAll(async () => {
    client?.close();
    await stack?.stop();
  });
}
