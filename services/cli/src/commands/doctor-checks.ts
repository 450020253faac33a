// The checks of `crius doctor`, each a small function over a NodeProbe (the
// only OS access), so they are unit-tested with a fake node and run for real
// by the command. Each finding says what is wrong and what to do about it.
import path from 'node:path';
import type { CriusConfig } from '@crius/common';

export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  name: string;
  level: Level;
  detail: string;
  fix?: string;
}

export interface NodeProbe {
  /** Absolute path of a program (a name is searched in PATH), if executable. */
  which(program: string): Promise<string | undefined>;
  /** First non-empty line of the program's output with `args`, or undefined if it failed. */
  version(program: string, args: string[]): Promise<string | undefined>;
  read(file: string): Promise<string | undefined>;
  list(dir: string): Promise<string[] | undefined>;
  stat(file: string): Promise<{ mode: number; isSocket: boolean; uid: number; gid: number } | undefined>;
  kernelRelease(): string;
}

const ok = (name: string, detail: string): Finding => ({ name, level: 'ok', detail });
const warn = (name: string, detail: string, fix?: string): Finding => ({ name, level: 'warn', detail, ...(fix ? { fix } : {}) });
const fail = (name: string, detail: string, fix?: string): Finding => ({ name, level: 'fail', detail, ...(fix ? { fix } : {}) });

async function program(p: NodeProbe, name: string, bin: string, args: string[], missing: (detail: string) => Finding): Promise<Finding> {
  const at = await p.which(bin);
  if (!at) return missing(`${bin} not found`);
  const v = await p.version(at, args);
  return v ? ok(name, `${v} (${at})`) : fail(name, `${at} does not run (${[at, ...args].join(' ')} failed)`, `reinstall ${path.basename(at)}`);
}

export async function checkRuntimes(p: NodeProbe, cfg: CriusConfig): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [handler, h] of Object.entries(cfg.runtime.handlers)) {
    const isDefault = handler === cfg.runtime.default_handler;
    const label = `runtime ${handler}${isDefault ? ' (default)' : ''}`;
    const pkg = path.basename(h.runtime_path);
    out.push(await program(p, label, h.runtime_path, ['--version'], (d) => (isDefault ? fail(label, d, `apt-get install ${pkg}`) : warn(label, `${d}: pods asking for RuntimeClass "${handler}" will fail`, `apt-get install ${pkg}`))));
  }
  return out;
}

export async function checkConmon(p: NodeProbe, cfg: CriusConfig, repoRoot: string): Promise<Finding> {
  const bin = cfg.runtime.conmon || path.join(repoRoot, 'native/conmon/build/crius-conmon');
  return program(p, 'conmon', bin, ['--version'], (d) => fail('conmon', d, cfg.runtime.conmon ? 'fix runtime.conmon in the config' : `make -C ${path.join(repoRoot, 'native/conmon')}`));
}

export async function checkNats(p: NodeProbe, cfg: CriusConfig): Promise<Finding> {
  return program(p, 'nats-server', cfg.bus.server_binary, ['--version'], (d) => fail('nats-server', d, 'apt-get install nats-server'));
}

export async function checkPause(p: NodeProbe): Promise<Finding> {
  return program(p, 'catatonit', 'catatonit', ['--version'], (d) => warn('catatonit', `${d}: pods sharing one PID namespace cannot start`, 'apt-get install catatonit'));
}

const CNI_NEEDED = ['bridge', 'host-local', 'loopback'];
const CNI_WANTED = ['portmap'];

export async function checkCni(p: NodeProbe, cfg: CriusConfig): Promise<Finding[]> {
  const found = new Map<string, string>();
  for (const dir of cfg.network.cni_bin_dirs) for (const f of (await p.list(dir)) ?? []) if (!found.has(f)) found.set(f, dir);
  const missing = CNI_NEEDED.filter((n) => !found.has(n));
  const dirs = cfg.network.cni_bin_dirs.join(', ');
  const plugins = missing.length
    ? fail('CNI plugins', `missing ${missing.join(', ')} in ${dirs}`, 'apt-get install containernetworking-plugins')
    : ok('CNI plugins', `${[...CNI_NEEDED, ...CNI_WANTED].filter((n) => found.has(n)).join(', ')} in ${[...new Set(CNI_NEEDED.map((n) => found.get(n)))].join(', ')}`);
  const out = [plugins];
  const noPortmap = CNI_WANTED.filter((n) => !found.has(n));
  if (noPortmap.length) out.push(warn('CNI portmap', `missing ${noPortmap.join(', ')}: pod port mappings will not work`, 'apt-get install containernetworking-plugins'));
  let confs = 0;
  for (const dir of cfg.network.cni_conf_dirs) confs += ((await p.list(dir)) ?? []).filter((f) => /\.(conf|conflist|json)$/.test(f)).length;
  out.push(confs ? ok('CNI config', `${confs} network config(s) in ${cfg.network.cni_conf_dirs.join(', ')}`) : warn('CNI config', `no network config in ${cfg.network.cni_conf_dirs.join(', ')}`, '`crius up` installs a default bridge network'));
  return out;
}

export async function checkCgroups(p: NodeProbe, cfg: CriusConfig): Promise<Finding> {
  const v2 = (await p.read('/sys/fs/cgroup/cgroup.controllers')) !== undefined;
  const init = ((await p.read('/proc/1/comm')) ?? '').trim();
  if (cfg.runtime.cgroup_manager === 'systemd' && init !== 'systemd') {
    return fail('cgroups', `cgroup_manager is "systemd" but PID 1 is ${init || 'unknown'}`, 'set runtime.cgroup_manager = "cgroupfs"');
  }
  if (v2) return ok('cgroups', `v2 (unified), manager ${cfg.runtime.cgroup_manager}`);
  const v1 = await p.list('/sys/fs/cgroup');
  if (!v1?.includes('memory') || !v1.includes('cpu')) return fail('cgroups', 'no cgroup v2 and no cgroup v1 memory/cpu hierarchies under /sys/fs/cgroup', 'mount the cgroup filesystems');
  return ok('cgroups', `v1 (legacy hierarchies), manager ${cfg.runtime.cgroup_manager}`);
}

export async function checkOverlay(p: NodeProbe): Promise<Finding> {
  const fs = (await p.read('/proc/filesystems')) ?? '';
  return /\boverlay\b/.test(fs) ? ok('overlayfs', 'overlay listed in /proc/filesystems') : fail('overlayfs', 'overlay is not in /proc/filesystems', 'modprobe overlay');
}

const NAMESPACES = ['mnt', 'uts', 'ipc', 'pid', 'net', 'user', 'cgroup'];

export async function checkKernel(p: NodeProbe): Promise<Finding[]> {
  const release = p.kernelRelease();
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  const out: Finding[] = [];
  out.push(major > 4 || (major === 4 && minor >= 18) ? ok('kernel', release) : warn('kernel', `${release} is older than 4.18; overlay and cgroup features may be missing`, 'upgrade the kernel'));
  const ns = (await p.list('/proc/self/ns')) ?? [];
  const missing = NAMESPACES.filter((n) => !ns.includes(n));
  out.push(missing.length ? fail('namespaces', `missing ${missing.join(', ')} namespaces`, 'use a kernel built with them') : ok('namespaces', NAMESPACES.join(', ')));
  const status = (await p.read('/proc/self/status')) ?? '';
  out.push(/^Seccomp:/m.test(status) ? ok('seccomp', 'supported') : warn('seccomp', 'not supported by this kernel: containers run without syscall filters', 'use a kernel with CONFIG_SECCOMP_FILTER'));
  const fwd = ((await p.read('/proc/sys/net/ipv4/ip_forward')) ?? '').trim();
  out.push(fwd === '1' ? ok('ip_forward', 'enabled') : warn('ip_forward', 'net.ipv4.ip_forward is 0: pods cannot reach other networks', 'sysctl -w net.ipv4.ip_forward=1'));
  return out;
}

export async function checkSocket(p: NodeProbe, socket: string, wantMode: string): Promise<Finding> {
  const st = await p.stat(socket);
  if (!st) return warn('CRI socket', `${socket} does not exist: crius is not running`, 'crius up');
  if (!st.isSocket) return fail('CRI socket', `${socket} is not a socket`, `remove it and restart crius`);
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const want = wantMode.padStart(4, '0');
  if (mode !== want) return warn('CRI socket', `${socket} has mode ${mode}, config says ${want}`, `chmod ${want} ${socket}`);
  if (st.mode & 0o002) return fail('CRI socket', `${socket} is world-writable: anyone can run containers as root`, `chmod o-w ${socket}`);
  return ok('CRI socket', `${socket} mode ${mode} uid ${st.uid} gid ${st.gid}`);
}

/** Findings from the gateway's verbose Status: conditions and each service's health. */
export function statusFindings(conditions: { type: string; status: boolean; reason: string; message: string }[], info: Record<string, string>): Finding[] {
  const out: Finding[] = [];
  for (const c of conditions) {
    out.push(c.status ? ok(c.type, 'true') : fail(c.type, `false: ${c.reason}${c.message ? `: ${c.message}` : ''}`, 'see the services below and their logs (crius status)'));
  }
  for (const [name, raw] of Object.entries(info).sort()) {
    let h: { ready?: boolean; version?: string; error?: string };
    try {
      h = JSON.parse(raw) as typeof h;
    } catch {
      continue; // not a service health entry
    }
    if (typeof h.ready !== 'boolean') continue;
    out.push(h.ready ? ok(`service ${name}`, `ready, version ${h.version ?? '?'}`) : fail(`service ${name}`, h.error ?? 'not ready', `look at its log under <run_root>/logs, or restart crius`));
  }
  return out;
}

export function formatFindings(findings: Finding[]): string {
  const width = Math.max(...findings.map((f) => f.name.length));
  const tag: Record<Level, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  return findings.map((f) => `${tag[f.level]}  ${f.name.padEnd(width)}  ${f.detail}${f.fix ? `\n      ${''.padEnd(width)}  fix: ${f.fix}` : ''}`).join('\n');
}
