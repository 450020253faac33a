// Starting a container's monitor (native/conmon, or Debian's conmon 2.x: same
// contract, see native/conmon/README.md). conmon double-forks so it outlives
// runtime-svc; it runs `<runtime> create`, reports the container PID on the
// sync pipe (fd 3) and waits on the start pipe (fd 4) until we have placed it
// in the pod's cgroup. Later it writes the CRI log and the exit file.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { InternalError } from '@crius/common';

export interface ConmonLaunch {
  conmon: string;
  id: string;
  /** Short id used for the attach socket dir (keeps the socket path short). */
  shortId: string;
  name: string;
  bundle: string;
  runtimePath: string;
  runtimeArgs: string[];
  logPath: string;
  exitDir: string;
  socketDir: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** [runtime] log_size_max: bytes; not positive = no limit. */
  logSizeMax?: number;
  /** Restore from the CRIU images in this directory instead of creating (`runtime restore`). */
  restore?: string;
  /** Options after the restore subcommand's own (e.g. --file-locks). */
  runtimeOpts?: string[];
  /** Called with conmon's PID before it may run the runtime (cgroup placement). */
  place?: (conmonPid: number) => Promise<void>;
  timeoutMs?: number;
}

export interface ConmonStarted {
  /** Container init PID. */
  pid: number;
  conmonPid: number;
}

export function conmonArgs(l: ConmonLaunch): string[] {
  const args = [
    '--api-version', '1',
    '-c', l.id,
    '-u', l.shortId,
    '-n', l.name,
    '-r', l.runtimePath,
    '-b', l.bundle,
    '-p', `${l.bundle}/pidfile`,
    '-P', `${l.bundle}/conmon-pidfile`,
    '-l', `k8s-file:${l.logPath}`,
    '--exit-dir', l.exitDir,
    '--socket-dir-path', l.socketDir,
    '--persist-dir', l.bundle,
    '--log-level', 'info',
  ];
  for (const a of l.runtimeArgs) args.push('--runtime-arg', a);
  if (l.terminal) args.push('-t');
  if (l.stdin) args.push('-i');
  if (l.stdin && !l.stdinOnce) args.push('--leave-stdin-open');
  if (l.logSizeMax !== undefined && l.logSizeMax > 0) args.push('--log-size-max', String(l.logSizeMax));
  if (l.restore) args.push('--restore', l.restore);
  for (const o of l.runtimeOpts ?? []) args.push('--runtime-opt', o);
  return args;
}

/** The first JSON message on the sync pipe: `{"data": pid}` or `{"data": -1, "message": …}` (api v1; `pid` in v0). */
export function parseSyncMessage(text: string): { value: number; message?: string } {
  const line = text.split('\n').find((l) => l.trim());
  if (!line) throw new Error('conmon closed the sync pipe without reporting');
  const msg = JSON.parse(line) as { data?: number; pid?: number; message?: string };
  const value = msg.data ?? msg.pid;
  if (typeof value !== 'number') throw new Error(`conmon sent an unexpected sync message: ${line}`);
  return { value, message: msg.message };
}

export async function startConmon(l: ConmonLaunch): Promise<ConmonStarted> {
  const child = spawn(l.conmon, conmonArgs(l), {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
    detached: true,
  });
  const sync = child.stdio[3] as Readable;
  const start = child.stdio[4] as Writable;
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  let syncText = '';
  sync.on('data', (d) => (syncText += String(d)));
  const firstMessage = new Promise<void>((resolve) => {
    const check = () => syncText.includes('\n') && resolve();
    sync.on('data', check);
    sync.on('end', () => resolve());
    sync.on('close', () => resolve());
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), l.timeoutMs ?? 60_000);
  try {
    if (!child.pid) throw new Error(`cannot run ${l.conmon}`);
    // conmon waits on the start pipe before it forks: placing this process
    // places the daemon it becomes, and everything it starts.
    await l.place?.(child.pid);
    start.end('0');
    await firstMessage;
    let parsed: { value: number; message?: string };
    try {
      parsed = parseSyncMessage(syncText);
    } catch (err) {
      throw new Error(`${(err as Error).message}${stderr ? ` (conmon: ${stderr.trim()})` : ''}`);
    }
    if (parsed.value <= 0) throw new Error(parsed.message?.trim() || `runtime create failed${stderr ? `: ${stderr.trim()}` : ''}`);
    return { pid: parsed.value, conmonPid: await readConmonPid(l.bundle, child.pid) };
  } catch (err) {
    throw new InternalError(`start monitor for container ${l.id}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
    sync.destroy();
    child.unref();
  }
}

/** The daemonized conmon's PID from its pidfile (written before it reported); else the launcher's. */
async function readConmonPid(bundle: string, launcherPid: number): Promise<number> {
  const pid = Number((await readFile(`${bundle}/conmon-pidfile`, 'utf8').catch(() => '')).trim());
  return pid > 0 ? pid : launcherPid;
}
