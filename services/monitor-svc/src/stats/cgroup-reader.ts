// monitor-svc stats: reads the raw counters of one cgroup (v1 or v2) from cgroupfs.
// Owner: monitor-svc. The cgroupfs root is injectable so tests run on a fake tree;
// parsing of the kernel's file formats lives in cgroup-parse.ts.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CGROUP_ROOT, InternalError, NotFoundError, cgroupVersion, type CgroupVersion } from '@crius/common';
import { isUnlimited, parseFlatKeyed, parseMax, parsePsi, type Psi } from './cgroup-parse.js';

export type { CgroupVersion };

export interface CpuSample {
  /** Total CPU time of all tasks, ns (v1 cpuacct.usage, v2 cpu.stat usage_usec*1000). */
  usageNs: bigint;
  userNs?: bigint;
  systemNs?: bigint;
  /** CFS bandwidth: periods elapsed, periods throttled, time throttled (ns). */
  periods?: bigint;
  throttledPeriods?: bigint;
  throttledNs?: bigint;
}

export interface MemorySample {
  usageBytes: bigint;
  /** usage − inactive_file, floored at 0: what kubelet evicts on. */
  workingSetBytes: bigint;
  rssBytes: bigint;
  cacheBytes: bigint;
  mappedFileBytes: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** Undefined when the cgroup has no memory limit. */
  limitBytes?: bigint;
  /** Processes killed by the OOM killer in this cgroup (0 on kernels that don't count). */
  oomKills: bigint;
}

export interface SwapSample {
  usageBytes: bigint;
  /** Undefined when swap is unlimited or not accounted. */
  limitBytes?: bigint;
}

export interface PidsSample {
  current: bigint;
  limit?: bigint;
}

export interface CgroupSample {
  path: string;
  version: CgroupVersion;
  /** Wall-clock time of the sample, ns since the epoch. */
  timestampNs: bigint;
  cpu?: CpuSample;
  memory?: MemorySample;
  swap?: SwapSample;
  pids?: PidsSample;
  /** Pressure stall information; cgroup v2 only, when the kernel has PSI. */
  psi?: { cpu?: Psi; memory?: Psi; io?: Psi };
}

export interface CgroupReader {
  readonly version: CgroupVersion;
  readonly root: string;
  /** Reads every controller of `cgroupPath`; throws NotFoundError when the cgroup is gone. */
  read(cgroupPath: string): Promise<CgroupSample>;
}

export interface CgroupReaderOptions {
  /** cgroupfs mount point, default /sys/fs/cgroup. */
  root?: string;
  /** Forces a version; by default v2 when `<root>/cgroup.controllers` exists. */
  version?: CgroupVersion;
  clock?: () => bigint;
}

/** Wall clock in ns with sub-millisecond resolution (Date.now() alone is ms). */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

export function createCgroupReader(opts: CgroupReaderOptions = {}): CgroupReader {
  const root = opts.root ?? CGROUP_ROOT;
  const version = opts.version ?? cgroupVersion(root);
  const clock = opts.clock ?? nowNs;
  return {
    version,
    root,
    read: (cgroupPath) =>
      version === 2 ? readV2(root, cgroupPath, clock) : readV1(root, cgroupPath, clock),
  };
}

/** cgroup paths from OCI specs may start with '/'; they are always relative to the hierarchy root. */
function rel(cgroupPath: string): string {
  const p = cgroupPath.replace(/^\/+/, '');
  if (p.split('/').includes('..')) {
    throw new InternalError(`cgroup path ${cgroupPath} must not contain '..'`);
  }
  return p;
}

/** File contents, or undefined when the file (or its cgroup) does not exist. */
async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENODEV/ENOTSUP: some interface files exist but refuse reads (e.g. PSI disabled).
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
      return undefined;
    }
    throw new InternalError(`read cgroup file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function readNumber(file: string): Promise<bigint | undefined> {
  const text = await readOptional(file);
  return text === undefined ? undefined : parseMax(text, file);
}

// ---- cgroup v1: one hierarchy per controller ----

async function readV1(root: string, cgroupPath: string, clock: () => bigint): Promise<CgroupSample> {
  const p = rel(cgroupPath);
  const dir = (controller: string) => join(root, controller, p);
  const present = ['cpuacct', 'memory', 'pids', 'cpu'].filter((c) => existsSync(dir(c)));
  if (present.length === 0) {
    throw new NotFoundError(`cgroup ${cgroupPath} not found under ${root} (v1)`);
  }
  const timestampNs = clock();
  const [cpu, mem, pids] = await Promise.all([
    readV1Cpu(dir('cpuacct'), dir('cpu')),
    readV1Memory(dir('memory')),
    readPids(dir('pids')),
  ]);
  return { path: cgroupPath, version: 1, timestampNs, cpu, memory: mem?.memory, swap: mem?.swap, pids };
}

async function readV1Cpu(acctDir: string, cpuDir: string): Promise<CpuSample | undefined> {
  const usageNs = await readNumber(join(acctDir, 'cpuacct.usage'));
  if (usageNs === undefined) return undefined;
  const sample: CpuSample = { usageNs };
  const [user, sys] = await Promise.all([
    readNumber(join(acctDir, 'cpuacct.usage_user')),
    readNumber(join(acctDir, 'cpuacct.usage_sys')),
  ]);
  if (user !== undefined && sys !== undefined) {
    sample.userNs = user;
    sample.systemNs = sys;
  } else {
    // Older kernels only have cpuacct.stat, in USER_HZ ticks (100/s on Linux).
    const stat = await readOptional(join(acctDir, 'cpuacct.stat'));
    if (stat !== undefined) {
      const kv = parseFlatKeyed(stat);
      sample.userNs = (kv.get('user') ?? 0n) * 10_000_000n;
      sample.systemNs = (kv.get('system') ?? 0n) * 10_000_000n;
    }
  }
  const cpuStat = await readOptional(join(cpuDir, 'cpu.stat'));
  if (cpuStat !== undefined) {
    const kv = parseFlatKeyed(cpuStat);
    sample.periods = kv.get('nr_periods');
    sample.throttledPeriods = kv.get('nr_throttled');
    sample.throttledNs = kv.get('throttled_time');
  }
  return sample;
}

async function readV1Memory(
  dir: string,
): Promise<{ memory: MemorySample; swap?: SwapSample } | undefined> {
  const [usage, statText, limit, oomText, hierText, memswUsage, memswLimit] = await Promise.all([
    readNumber(join(dir, 'memory.usage_in_bytes')),
    readOptional(join(dir, 'memory.stat')),
    readNumber(join(dir, 'memory.limit_in_bytes')),
    readOptional(join(dir, 'memory.oom_control')),
    readOptional(join(dir, 'memory.use_hierarchy')),
    readNumber(join(dir, 'memory.memsw.usage_in_bytes')),
    readNumber(join(dir, 'memory.memsw.limit_in_bytes')),
  ]);
  if (usage === undefined || statText === undefined) return undefined;
  const stat = parseFlatKeyed(statText);
  // Hierarchical (total_*) counters, as cAdvisor uses with use_hierarchy=1, so a pod
  // cgroup (which holds no tasks itself) reports its containers' memory.
  const hier = (hierText ?? '1').trim() !== '0';
  const get = (key: string) => (hier ? stat.get(`total_${key}`) : undefined) ?? stat.get(key) ?? 0n;
  const memory: MemorySample = {
    usageBytes: usage,
    workingSetBytes: floor0(usage - get('inactive_file')),
    rssBytes: get('rss'),
    cacheBytes: get('cache'),
    mappedFileBytes: get('mapped_file'),
    pageFaults: get('pgfault'),
    majorPageFaults: get('pgmajfault'),
    limitBytes: limit === undefined || isUnlimited(limit) ? undefined : limit,
    oomKills: oomText === undefined ? 0n : (parseFlatKeyed(oomText).get('oom_kill') ?? 0n),
  };
  // memsw files exist only with swap accounting; memsw = memory + swap.
  let swap: SwapSample | undefined;
  if (memswUsage !== undefined) {
    swap = { usageBytes: floor0(memswUsage - usage) };
    if (memswLimit !== undefined && !isUnlimited(memswLimit) && memory.limitBytes !== undefined) {
      swap.limitBytes = floor0(memswLimit - memory.limitBytes);
    }
  }
  return { memory, swap };
}

async function readPids(dir: string): Promise<PidsSample | undefined> {
  const current = await readNumber(join(dir, 'pids.current'));
  if (current === undefined) return undefined;
  const limit = await readNumber(join(dir, 'pids.max'));
  return { current, limit: limit === undefined || isUnlimited(limit) ? undefined : limit };
}

// ---- cgroup v2: one unified hierarchy ----

async function readV2(root: string, cgroupPath: string, clock: () => bigint): Promise<CgroupSample> {
  const dir = join(root, rel(cgroupPath));
  if (!existsSync(dir)) {
    throw new NotFoundError(`cgroup ${cgroupPath} not found under ${root} (v2)`);
  }
  const timestampNs = clock();
  const [cpu, mem, pids, cpuP, memP, ioP] = await Promise.all([
    readV2Cpu(dir),
    readV2Memory(dir),
    readPids(dir),
    readOptional(join(dir, 'cpu.pressure')),
    readOptional(join(dir, 'memory.pressure')),
    readOptional(join(dir, 'io.pressure')),
  ]);
  const sample: CgroupSample = {
    path: cgroupPath,
    version: 2,
    timestampNs,
    cpu,
    memory: mem?.memory,
    swap: mem?.swap,
    pids,
  };
  if (cpuP !== undefined || memP !== undefined || ioP !== undefined) {
    sample.psi = {
      cpu: cpuP === undefined ? undefined : parsePsi(cpuP),
      memory: memP === undefined ? undefined : parsePsi(memP),
      io: ioP === undefined ? undefined : parsePsi(ioP),
    };
  }
  return sample;
}

async function readV2Cpu(dir: string): Promise<CpuSample | undefined> {
  const text = await readOptional(join(dir, 'cpu.stat'));
  if (text === undefined) return undefined;
  const kv = parseFlatKeyed(text);
  const usec = kv.get('usage_usec');
  if (usec === undefined) return undefined;
  const ns = (key: string) => {
    const v = kv.get(key);
    return v === undefined ? undefined : v * 1000n;
  };
  return {
    usageNs: usec * 1000n,
    userNs: ns('user_usec'),
    systemNs: ns('system_usec'),
    periods: kv.get('nr_periods'),
    throttledPeriods: kv.get('nr_throttled'),
    throttledNs: ns('throttled_usec'),
  };
}

async function readV2Memory(
  dir: string,
): Promise<{ memory: MemorySample; swap?: SwapSample } | undefined> {
  const [usage, statText, limit, eventsText, swapCur, swapMax] = await Promise.all([
    readNumber(join(dir, 'memory.current')),
    readOptional(join(dir, 'memory.stat')),
    readNumber(join(dir, 'memory.max')),
    readOptional(join(dir, 'memory.events')),
    readNumber(join(dir, 'memory.swap.current')),
    readNumber(join(dir, 'memory.swap.max')),
  ]);
  if (usage === undefined || statText === undefined) return undefined;
  const stat = parseFlatKeyed(statText);
  const get = (key: string) => stat.get(key) ?? 0n;
  const memory: MemorySample = {
    usageBytes: usage,
    workingSetBytes: floor0(usage - get('inactive_file')),
    // v2 has no "rss"/"cache"; anon and file are their counterparts (as cAdvisor maps them).
    rssBytes: get('anon'),
    cacheBytes: get('file'),
    mappedFileBytes: get('file_mapped'),
    pageFaults: get('pgfault'),
    majorPageFaults: get('pgmajfault'),
    limitBytes: limit === undefined || isUnlimited(limit) ? undefined : limit,
    oomKills: eventsText === undefined ? 0n : (parseFlatKeyed(eventsText).get('oom_kill') ?? 0n),
  };
  const swap =
    swapCur === undefined
      ? undefined
      : { usageBytes: swapCur, limitBytes: swapMax === undefined || isUnlimited(swapMax) ? undefined : swapMax };
  return { memory, swap };
}

function floor0(v: bigint): bigint {
  return v < 0n ? 0n : v;
}
