// monitor-svc stats: a pod's network counters, read from /proc/net/dev inside its network namespace.
// Owner: monitor-svc. Sources: /proc/<pid>/net/dev of any process in the pod, or
// `nsenter --net=<path> cat /proc/net/dev` for a pinned namespace with no process in it.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InternalError, NotFoundError } from '@crius/common';
import type { NetworkInterfaceUsage, NetworkUsage } from '@crius/common/cri';

const execFileP = promisify(execFile);

export interface NetDevEntry {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/**
 * Parses /proc/net/dev: two header lines, then "iface: <8 receive> <8 transmit>"
 * (bytes packets errs drop fifo frame compressed multicast | bytes packets errs drop
 * fifo colls carrier compressed).
 */
export function parseNetDev(text: string): NetDevEntry[] {
  const out: NetDevEntry[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (!name || f.length < 16 || !f.every((x) => /^\d+$/.test(x))) {
      throw new InternalError(`parse /proc/net/dev: bad line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const n = f.map((x) => BigInt(x));
    out.push({
      name,
      rxBytes: n[0]!,
      rxPackets: n[1]!,
      rxErrors: n[2]!,
      rxDropped: n[3]!,
      txBytes: n[8]!,
      txPackets: n[9]!,
      txErrors: n[10]!,
      txDropped: n[11]!,
    });
  }
  return out;
}

/** Counters of the network namespace `pid` lives in. */
export async function readNetDevOfPid(pid: number, procRoot = '/proc'): Promise<NetDevEntry[]> {
  const file = join(procRoot, String(pid), 'net', 'dev');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`network stats of pid ${pid}: ${file} does not exist`, { cause: err });
    }
    throw new InternalError(`network stats of pid ${pid}: read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseNetDev(text);
}

/** Counters of a pinned network namespace (e.g. /var/run/netns/<name>), via nsenter. */
export async function readNetDevOfNetns(
  netnsPath: string,
  opts: { nsenter?: string; timeoutMs?: number } = {},
): Promise<NetDevEntry[]> {
  let stdout: string;
  try {
    // cat runs inside the namespace, so its /proc/self/net/dev (= /proc/net/dev) is the pod's.
    ({ stdout } = await execFileP(opts.nsenter ?? 'nsenter', [`--net=${netnsPath}`, 'cat', '/proc/net/dev'], {
      timeout: opts.timeoutMs ?? 5000,
    }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const detail = (e.stderr ?? '').trim() || e.message;
    if (/No such file or directory/.test(detail) && e.code !== 'ENOENT') {
      throw new NotFoundError(`network stats of netns ${netnsPath}: ${detail}`, { cause: err });
    }
    throw new InternalError(`network stats of netns ${netnsPath}: nsenter failed: ${detail}`, { cause: err });
  }
  return parseNetDev(stdout);
}

/** Where to find a pod's network namespace; neither set means host network (no pod stats). */
export interface PodNetworkSource {
  pid?: number;
  netnsPath?: string;
}

/** Reads a pod's counters, preferring a process (no exec) over nsenter. */
export async function readPodNetDev(src: PodNetworkSource): Promise<NetDevEntry[] | undefined> {
  if (src.pid !== undefined && src.pid > 0) {
    try {
      return await readNetDevOfPid(src.pid);
    } catch (err) {
      // The process may have exited between listing and reading; the namespace stays pinned.
      if (!(err instanceof NotFoundError) || src.netnsPath === undefined) throw err;
    }
  }
  if (src.netnsPath !== undefined && src.netnsPath !== '') return readNetDevOfNetns(src.netnsPath);
  return undefined;
}

export interface NetworkUsageOptions {
  /** Interface reported as default_interface when present; default eth0. */
  defaultInterface?: string;
  /** Loopback traffic never leaves the pod, so it is left out unless asked for. */
  includeLoopback?: boolean;
}

function toInterfaceUsage(e: NetDevEntry): NetworkInterfaceUsage {
  return {
    name: e.name,
    rxBytes: { value: e.rxBytes },
    rxErrors: { value: e.rxErrors },
    txBytes: { value: e.txBytes },
    txErrors: { value: e.txErrors },
  };
}

/** CRI NetworkUsage: the default interface (eth0, else the first other one), then all interfaces. */
export function toNetworkUsage(
  entries: NetDevEntry[],
  timestampNs: bigint,
  opts: NetworkUsageOptions = {},
): NetworkUsage {
  const wanted = opts.defaultInterface ?? 'eth0';
  const kept = entries.filter((e) => opts.includeLoopback || e.name !== 'lo');
  const def = kept.find((e) => e.name === wanted) ?? kept[0];
  // The default interface first, so consumers that take interfaces[0] see it too.
  const ordered = def === undefined ? kept : [def, ...kept.filter((e) => e !== def)];
  return {
    timestamp: timestampNs,
    defaultInterface: def === undefined ? undefined : toInterfaceUsage(def),
    interfaces: ordered.map(toInterfaceUsage),
  };
}
