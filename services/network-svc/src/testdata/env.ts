// Test-only: a private network setup per test file (temp dirs, a bridge named
// crt<random>, a subnet 10.89.<random>.0/24, host-local leases in a temp dir)
// and a cleanup that removes everything created, iptables rules included
// (by diffing iptables-save before/after). Not compiled into dist.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../command.js';

export const FAKE_PLUGIN = fileURLToPath(new URL('./fake-plugin.mjs', import.meta.url));

export interface PrivateNet {
  root: string;
  confDir: string;
  /** Real plugins first, then a dir with the fake test plugin. */
  binDirs: string[];
  fakeBinDir: string;
  netnsDir: string;
  cacheDir: string;
  dataDir: string;
  bridge: string;
  subnet: string;
  /** Third octet of subnet, for building addresses. */
  octet: number;
  cleanup(): Promise<void>;
}

async function sh(file: string, args: string[], input?: string): Promise<string> {
  const r = await runCommand(file, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function readSysctl(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then((s) => s.trim(), () => undefined);
}

const SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'];

export async function makePrivateNet(prefix: string): Promise<PrivateNet> {
  const root = await mkdtemp(join(tmpdir(), `crius-net-${prefix}-`));
  const id = randomBytes(3).toString('hex');
  const octet = 1 + (randomBytes(1)[0]! % 254);
  const net = {
    root,
    confDir: join(root, 'net.d'),
    fakeBinDir: join(root, 'bin'),
    netnsDir: join(root, 'netns'),
    cacheDir: join(root, 'cache'),
    dataDir: join(root, 'ipam'),
    bridge: `crt${id}`,
    subnet: `10.89.${octet}.0/24`,
    octet,
  };
  await mkdir(net.fakeBinDir, { recursive: true });
  await copyFile(FAKE_PLUGIN, join(net.fakeBinDir, 'crius-fake'));
  await chmod(join(net.fakeBinDir, 'crius-fake'), 0o755);
  const before = { v4: await sh('iptables-save', []), v6: await sh('ip6tables-save', []).catch(() => '') };
  const sysctls = await Promise.all(SYSCTLS.map(readSysctl));
  const cleanup = async (): Promise<void> => {
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    };
    await step('umount netns', async () => {
      const r = await runCommand('umount', ['-R', net.netnsDir]);
      if (r.code !== 0 && !/not mounted|no mount point/i.test(r.stderr)) throw new Error(r.stderr);
    });
    await step('bridge', async () => {
      if ((await runCommand('ip', ['link', 'show', net.bridge])).code === 0) await sh('ip', ['link', 'del', net.bridge]);
    });
    await step('iptables', () => restoreIptables('iptables', before.v4));
    if (before.v6) await step('ip6tables', () => restoreIptables('ip6tables', before.v6));
    await step('sysctl', async () => {
      for (const [i, path] of SYSCTLS.entries()) if (sysctls[i] !== undefined) await writeFile(path, sysctls[i]!);
    });
    await step('rm', () => rm(root, { recursive: true, force: true }));
    if (errors.length) throw new Error(`cleanup of ${root}: ${errors.join('; ')}`);
  };
  return { ...net, binDirs: ['/usr/lib/cni', net.fakeBinDir], cleanup };
}

interface Tables {
  [table: string]: { chains: Set<string>; rules: string[] };
}

export function parseIptablesSave(text: string): Tables {
  const out: Tables = {};
  let cur: Tables[string] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) out[line.slice(1)] = cur = { chains: new Set(), rules: [] };
    else if (cur && line.startsWith(':')) cur.chains.add(line.slice(1).split(' ')[0]!);
    else if (cur && line.startsWith('-A ')) cur.rules.push(line.slice(3));
  }
  return out;
}

/** Removes rules and chains present now but not in `beforeText`; leaves everything else alone. */
export async function restoreIptables(tool: 'iptables' | 'ip6tables', beforeText: string): Promise<void> {
  const before = parseIptablesSave(beforeText);
  const now = parseIptablesSave(await sh(`${tool}-save`, []));
  let script = '';
  for (const [table, t] of Object.entries(now)) {
    const old = before[table] ?? { chains: new Set<string>(), rules: [] };
    const newChains = [...t.chains].filter((c) => !old.chains.has(c));
    const oldRules = [...old.rules];
    const lines: string[] = [];
    for (const rule of t.rules) {
      const i = oldRules.indexOf(rule);
      if (i >= 0) oldRules.splice(i, 1);
      else if (!newChains.includes(rule.split(' ')[0]!)) lines.push(`-D ${rule}`);
    }
    for (const c of newChains) lines.push(`-F ${c}`);
    for (const c of newChains) lines.push(`-X ${c}`);
    if (lines.length) script += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  if (script) await sh(`${tool}-restore`, ['--noflush'], script);
}

/** Chains of a table whose name starts with prefix (to assert plugin cleanup). */
export async function iptablesChains(table: string, prefix: string): Promise<string[]> {
  const t = parseIptablesSave(await sh('iptables-save', ['-t', table]))[table];
  return t ? [...t.chains].filter((c) => c.startsWith(prefix)) : [];
}

export async function writeConf(net: PrivateNet, file: string, conf: unknown): Promise<string> {
  await mkdir(net.confDir, { recursive: true });
  const path = join(net.confDir, file);
  await writeFile(path, typeof conf === 'string' ? conf : JSON.stringify(conf, null, 2));
  return path;
}

/** host-local lease files (IP-named) left in the data dir of a network. */
export async function leases(net: PrivateNet, network: string): Promise<string[]> {
  try {
    return (await readdir(join(net.dataDir, network))).filter((n) => isIP(n) !== 0);
  } catch {
    return [];
  }
}

export async function hostVeths(bridge: string): Promise<string[]> {
  const r = await runCommand('ip', ['-o', 'link', 'show', 'master', bridge]);
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

/** Starts busybox httpd inside the namespace serving `body` at /; returns the process (kill by PID). */
export async function startHttpd(netnsPath: string, dir: string, body: string, port = 8080): Promise<ChildProcess> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.html'), body);
  const p = spawn('nsenter', [`--net=${netnsPath}`, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
  return p;
}

export function killPid(p: ChildProcess | undefined): void {
  if (p?.pid && p.exitCode === null && p.signalCode === null) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** wget from a namespace ('' = host), retrying while the server starts. (busybox 1.35 wget -T segfaults, so our own timeout.) */
export async function wget(fromNetns: string, url: string, tries = 20): Promise<string> {
  const cmd = fromNetns ? ['nsenter', [`--net=${fromNetns}`, 'busybox', 'wget', '-qO-', url]] as const : ['busybox', ['wget', '-qO-', url]] as const;
  let last = '';
  for (let i = 0; i < tries; i++) {
    const r = await runCommand(cmd[0], [...cmd[1]], { timeoutMs: 3000 });
    if (r.code === 0) return r.stdout;
    last = r.timedOut ? 'timed out' : r.stderr.trim() || `exit ${r.code ?? r.signal}`;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`wget ${url} from ${fromNetns || 'host'}: ${last}`);
}
