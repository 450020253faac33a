// Facts about this node that spec generation needs, read once at start:
// cgroup version, the highest capability, the lowest oom_score_adj we may set
// (no CAP_SYS_RESOURCE: a lower one makes runc fail, so specs are clamped),
// SELinux, and the [runtime] node defaults. Host device nodes are not among
// them: a privileged container gets /dev as it is when it is created
// (hostDevices, read per create).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { capabilityName, cgroupVersion, parseSize, parseSysctl, parseUlimit, type CriusConfig } from '@crius/common';
import type { HostFacts, OciLinuxDevice } from '../spec/index.js';
import { selinuxEnabled } from '../os/selinux.js';
import { statCdiDevice } from './cdi.js';

function readNumber(file: string, fallback: number): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : fallback;
  } catch {
    return fallback;
  }
}

export function major(rdev: number): number {
  return ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfff);
}
export function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & ~0xff);
}

export function statDevice(p: string) {
  const st = statSync(p);
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new Error(`${p} is not a device`);
  return { type: (st.isCharacterDevice() ? 'c' : 'b') as 'c' | 'b', major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

const SKIP_DEV_DIRS = new Set(['pts', 'shm', 'mqueue', 'hugepages']);

/** Every device node under /dev, for privileged containers. */
export async function hostDevices(dir = '/dev', depth = 0): Promise<OciLinuxDevice[]> {
  const out: OciLinuxDevice[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth < 2 && !SKIP_DEV_DIRS.has(e.name)) out.push(...(await hostDevices(p, depth + 1)));
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    let d: ReturnType<typeof statDevice> | undefined;
    try {
      d = statDevice(p);
    } catch {
      continue;
    }
    if (d) out.push({ path: p, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid });
  }
  return out;
}

/** This process's bounding capability set: what it can hand to containers. */
function boundingSet(): bigint | undefined {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
    return line ? BigInt('0x' + line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** [runtime] default_capabilities, default_ulimits, default_sysctls and shm_size as spec generation takes them. */
export function nodeDefaults(cfg: CriusConfig): Pick<HostFacts, 'defaultCapabilities' | 'rlimits' | 'defaultSysctls' | 'shmSizeBytes'> {
  const r = cfg.runtime;
  return {
    defaultCapabilities: r.default_capabilities.map((c) => `CAP_${capabilityName(c)}`),
    rlimits: r.default_ulimits.map(parseUlimit),
    defaultSysctls: Object.fromEntries(r.default_sysctls.map(parseSysctl)),
    shmSizeBytes: parseSize(r.shm_size),
  };
}

export async function readHostFacts(cfg: CriusConfig): Promise<HostFacts> {
  return {
    hostBounding: boundingSet(),
    cgroupVersion: cgroupVersion(),
    cgroupManager: cfg.runtime.cgroup_manager as 'cgroupfs' | 'systemd',
    capLastCap: readNumber('/proc/sys/kernel/cap_last_cap', 40),
    minOomScoreAdj: readNumber('/proc/self/oom_score_adj', -1000),
    selinuxEnabled: selinuxEnabled(),
    defaultPidsLimit: cfg.runtime.pids_limit,
    swapSupported: cgroupVersion() === 2 || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    statDevice,
    statCdiDevice,
    readSeccompProfile: (p: string) => readFileSync(p, 'utf8'),
    ...nodeDefaults(cfg),
  };
}
