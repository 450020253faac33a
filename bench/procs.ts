// bench/procs: find processes by command line and read their memory from
// /proc (VmRSS from status, Pss from smaps_rollup), for the memory benches.
import { readdir, readFile } from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  argv: string[];
}

export interface ProcMem {
  pid: number;
  comm: string;
  /** Resident set, kB: counts shared pages (binary text, libs) once per process. */
  rssKb: number;
  /** Proportional set, kB: shared pages divided among their sharers, so sums are honest. */
  pssKb: number;
}

async function readProc(pid: number): Promise<ProcInfo | undefined> {
  try {
    const [cmdline, stat] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    // comm may hold spaces and parentheses: it ends at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    return { pid, ppid, comm, argv: cmdline.split('\0').filter((a) => a.length > 0) };
  } catch {
    return undefined; // exited while we looked
  }
}

/** Every live process (kernel threads have an empty argv). */
export async function listProcs(): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const all = await Promise.all(pids.map(readProc));
  return all.filter((p): p is ProcInfo => p !== undefined && p.argv.length > 0);
}

/** Processes whose argv has `flag` immediately followed by `value` (e.g. -address <socket>). */
export function withArg(procs: ProcInfo[], flag: string, value: string): ProcInfo[] {
  return procs.filter((p) => p.argv.some((a, i) => a === flag && p.argv[i + 1] === value));
}

function kb(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export async function procMem(pid: number): Promise<ProcMem | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    const comm = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
    return { pid, comm, rssKb: kb(status, 'VmRSS'), pssKb: kb(rollup, 'Pss') };
  } catch {
    return undefined;
  }
}

export interface MemGroup {
  label: string;
  count: number;
  rssKb: number;
  pssKb: number;
}

/** Sums the memory of a group of pids (those that exited meanwhile are skipped). */
export async function sumMem(label: string, pids: number[]): Promise<MemGroup> {
  const mems = (await Promise.all(pids.map(procMem))).filter((m): m is ProcMem => m !== undefined);
  return {
    label,
    count: mems.length,
    rssKb: mems.reduce((s, m) => s + m.rssKb, 0),
    pssKb: mems.reduce((s, m) => s + m.pssKb, 0),
  };
}

export function mb(kbValue: number): string {
  return `${(kbValue / 1024).toFixed(1)} MB`;
}

/** CPU time a process has used so far (user and system, ms); 0 once it is gone. */
export async function cpuMs(pid: number): Promise<{ user: number; system: number }> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tick = 1000 / 100; // USER_HZ is 100 on Linux
    return { user: Number(fields[11]) * tick, system: Number(fields[12]) * tick };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** Sum of cpuMs over `pids`. */
export async function totalCpuMs(pids: number[]): Promise<{ user: number; system: number }> {
  const all = await Promise.all(pids.map(cpuMs));
  return all.reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }), { user: 0, system: 0 });
}
