// monitor-svc stats: parsers for the kernel's cgroupfs and /proc/<pid>/cgroup file formats.
// Owner: monitor-svc. Pure functions; cgroup-reader.ts does the file access.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError, NotFoundError } from '@crius/common';

/** Stand-in for the literal "max" (no limit) in v2 files. */
export const UNLIMITED = (1n << 64n) - 1n;

/**
 * v1 writes "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX * PAGE_SIZE,
 * 9223372036854771712 on x86-64) rather than a fixed value, so anything past 2^62 is
 * taken as unlimited.
 */
export function isUnlimited(v: bigint): boolean {
  return v >= 1n << 62n;
}

/** A single-number file ("123\n" or "max\n"). */
export function parseMax(text: string, file = 'cgroup file'): bigint {
  const t = text.trim();
  if (t === 'max') return UNLIMITED;
  if (!/^\d+$/.test(t)) {
    throw new InternalError(`parse ${file}: expected a number or "max", got ${JSON.stringify(t.slice(0, 40))}`);
  }
  return BigInt(t);
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, oom_control); non-numeric values skipped. */
export function parseFlatKeyed(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key && value !== undefined && extra === undefined && /^\d+$/.test(value)) {
      out.set(key, BigInt(value));
    }
  }
  return out;
}

export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Cumulative stall time, µs (as the kernel writes it). */
  totalUs: bigint;
}

export interface Psi {
  some?: PsiLine;
  full?: PsiLine;
}

/** "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" (+ a "full" line). */
export function parsePsi(text: string): Psi {
  const psi: Psi = {};
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const kv = new Map(fields.map((f) => f.split('=') as [string, string]));
    psi[kind] = {
      avg10: Number(kv.get('avg10') ?? 0),
      avg60: Number(kv.get('avg60') ?? 0),
      avg300: Number(kv.get('avg300') ?? 0),
      totalUs: /^\d+$/.test(kv.get('total') ?? '') ? BigInt(kv.get('total')!) : 0n,
    };
  }
  return psi;
}

/**
 * The cgroup path of a process from /proc/<pid>/cgroup text: the v2 line ("0::/path")
 * when `controller` is undefined, else the v1 line listing that controller.
 */
export function parseProcCgroup(text: string, controller?: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, , controllers, path] = m;
    if (controller === undefined ? controllers === '' : controllers!.split(',').includes(controller)) {
      return path;
    }
  }
  return undefined;
}

/**
 * Where a running process's cgroup actually is. runc resolves a relative cgroupsPath
 * against its own cgroup, so the caller can check the real location here.
 */
export async function cgroupPathOfPid(
  pid: number,
  opts: { procRoot?: string; controller?: string } = {},
): Promise<string> {
  const file = join(opts.procRoot ?? '/proc', String(pid), 'cgroup');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NotFoundError(`cgroup of pid ${pid}: cannot read ${file}`, { cause: err });
  }
  const path = parseProcCgroup(text, opts.controller);
  if (path === undefined) {
    throw new NotFoundError(`cgroup of pid ${pid}: no ${opts.controller ?? 'v2'} entry in ${file}`);
  }
  return path;
}
