// Exec with a terminal: runs `crius-conmon -e --exec-attach -t` (API 1, see
// native/conmon/README.md) and bridges its attach socket to stdio with
// attach-bridge, for runtime-svc's ExecSession. Owned by runtime-svc.
// Order: conmon serves the attach socket, we connect, then release it so no
// terminal output (the shell's first prompt) goes to nobody.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { writeExecProcess } from './exec-process.js';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { InternalError } from '@crius/common';

export interface TtyExecLaunch {
  conmon: string;
  attachBridge: string;
  containerId: string;
  runtimePath: string;
  runtimeArgs: string[];
  /** Where conmon links the exec's attach dir (rt.attachDir). */
  socketDir: string;
  /** The OCI process to run; terminal is forced on. */
  process: Record<string, unknown>;
  stdin: boolean;
  /** Time for conmon to serve the socket and the runtime to start the process. Default 30 s. */
  startTimeoutMs?: number;
}

export interface TtyExec {
  /** The terminal's input (present iff stdin was asked for) and output. */
  stdin?: Writable;
  stdout: Readable;
  /** The process's exit code (conmon's second sync message); rejects if conmon vanished without one. */
  exitCode: Promise<number>;
  resize(size: { width: number; height: number }): Promise<void>;
  /** Kills the process (and conmon if it lingers); resolves once conmon is gone. */
  kill(): Promise<void>;
}

/** The exec's conmon command line: no --exit-dir/--persist-dir, so the container's exit files stay untouched. */
export function ttyExecArgs(l: TtyExecLaunch, dir: string, cuuid: string): string[] {
  const args = [
    '--api-version', '1',
    '-c', l.containerId,
    '-u', cuuid,
    '-n', l.containerId,
    '-r', l.runtimePath,
    '-b', dir,
    '-p', path.join(dir, 'exec.pid'),
    '-P', path.join(dir, 'conmon.pid'),
    '-l', 'none',
    '--socket-dir-path', l.socketDir,
    '-e', '--exec-attach',
    '--exec-process-spec', path.join(dir, 'process.json'),
    '-t',
  ];
  if (l.stdin) args.push('-i');
  for (const a of l.runtimeArgs) args.push('--runtime-arg', a);
  return args;
}

export async function startTtyExec(l: TtyExecLaunch): Promise<TtyExec> {
  const env = Array.isArray(l.process.env) ? (l.process.env as string[]) : [];
  const processSpec = { ...l.process, terminal: true, consoleSize: undefined, env: env.some((e) => e.startsWith('TERM=')) ? env : [...env, 'TERM=xterm'] };
  const { dir } = await writeExecProcess('crius-exec-tty-', processSpec);
  const cuuid = `exec-${randomBytes(6).toString('hex')}`;
  const conmon = spawn(l.conmon, ttyExecArgs(l, dir, cuuid), {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
    detached: true,
  });
  conmon.unref();
  let stderr = '';
  conmon.once('error', (err) => (stderr += `cannot run ${l.conmon}: ${err.message}`)); // its pipes close: reported below
  conmon.stderr!.on('data', (d) => (stderr += String(d)));
  const pipes = conmon.stdio as unknown as (Readable | Writable | null)[]; // fd 5 is past the typed tuple
  const start = pipes[4] as Writable;
  start.on('error', () => undefined); // EPIPE when conmon died
  const sync = new JsonLines(pipes[3] as Readable);
  const attachPipe = new JsonLines(pipes[5] as Readable);
  // conmon's files are removed once it is gone, whatever happened.
  void sync.closed.then(() => rm(dir, { recursive: true, force: true }));
  const what = `exec in container ${l.containerId} with a terminal`;
  const failed = (reason: string) => new InternalError(`${what}: ${reason}${stderr.trim() ? ` (conmon: ${stderr.trim()})` : ''}`);
  let bridge: ChildProcess | undefined;
  const timer = setTimeout(() => void killConmon(dir, conmon.pid), l.startTimeoutMs ?? 30_000);
  try {
    start.write('0'); // first wait: before conmon forks anything
    const firstSync = sync.next();
    const ready = await Promise.race([attachPipe.next(), firstSync.then((m) => ({ sync: m }))]);
    if (!ready || 'sync' in ready) throw failed(ready?.sync?.message?.trim() || 'the monitor exited before serving its attach socket');
    bridge = await connectBridge(l, path.join(l.socketDir, cuuid, 'attach'));
    start.end('0'); // second wait: we are connected, conmon may run the runtime
    const pidMsg = await firstSync;
    if (!pidMsg || !(pidMsg.data > 0)) throw failed(pidMsg?.message?.trim() || 'the monitor exited without starting the process');
    const execPid = pidMsg.data;
    const b = bridge;
    b.stderr!.on('data', (d) => (stderr += String(d)));
    return {
      stdin: b.stdin ?? undefined,
      stdout: b.stdout!,
      exitCode: sync.next().then((m) => {
        if (m && typeof m.data === 'number' && m.data >= 0) return m.data;
        throw failed(m?.message?.trim() || 'the monitor exited without reporting the exit code');
      }),
      resize: (size) => writeResize(path.join(dir, 'ctl'), size),
      kill: async () => {
        tryKill(execPid);
        b.kill('SIGKILL');
        // conmon exits once it reaped the process; if it does not, it goes too.
        const gone = await Promise.race([sync.closed.then(() => true), delay(5000).then(() => false)]);
        if (!gone) await killConmon(dir, conmon.pid);
      },
    };
  } catch (err) {
    bridge?.kill('SIGKILL');
    await killConmon(dir, conmon.pid);
    throw err instanceof InternalError ? err : failed((err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts attach-bridge on the socket and resolves once it is connected (its --ready-fd line). */
async function connectBridge(l: TtyExecLaunch, socket: string): Promise<ChildProcess> {
  const bridge = spawn(l.attachBridge, [socket, ...(l.stdin ? [] : ['--no-stdin']), '--ready-fd', '3'], {
    stdio: [l.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  bridge.stderr!.on('data', (d) => (stderr += String(d)));
  const ready = new JsonLines(bridge.stdio[3] as Readable, true);
  const ok = await Promise.race([
    ready.closed.then(() => ready.sawText),
    new Promise<false>((resolve) => bridge.once('error', () => resolve(false))),
  ]);
  if (!ok) {
    bridge.kill('SIGKILL');
    throw new Error(`attach-bridge could not connect to ${socket}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
  return bridge;
}

/** conmon's ctl fifo: "1 <height> <width>\n" resizes the terminal. Non-blocking: no reader means no conmon. */
export async function writeResize(ctl: string, size: { width: number; height: number }): Promise<void> {
  const fh = await open(ctl, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  try {
    await fh.write(`1 ${size.height} ${size.width}\n`);
  } finally {
    await fh.close();
  }
}

/** Kills the daemonized conmon (pidfile) or, before it daemonized, its launcher. */
async function killConmon(dir: string, launcherPid: number | undefined): Promise<void> {
  const pid = Number((await readFile(path.join(dir, 'conmon.pid'), 'utf8').catch(() => '')).trim());
  if (pid > 0) tryKill(pid);
  if (launcherPid) tryKill(launcherPid);
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

interface SyncMessage {
  data: number;
  message?: string;
}

/** One JSON object per line from a conmon pipe; next() yields them in order, undefined at EOF. */
class JsonLines {
  private text = '';
  private readonly lines: string[] = [];
  private readonly waiters: ((m: SyncMessage | undefined) => void)[] = [];
  private ended = false;
  sawText = false;
  readonly closed: Promise<void>;

  constructor(src: Readable, raw = false) {
    src.on('error', () => undefined);
    src.on('data', (d) => {
      this.sawText = true;
      if (raw) return;
      this.text += String(d);
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n')) {
        const line = this.text.slice(0, i).trim();
        this.text = this.text.slice(i + 1);
        if (line) this.lines.push(line);
      }
      this.flush();
    });
    this.closed = new Promise((resolve) => {
      const end = () => {
        this.ended = true;
        this.flush();
        resolve();
      };
      src.once('end', end);
      src.once('close', end);
    });
  }

  next(): Promise<SyncMessage | undefined> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiters.length > 0 && (this.lines.length > 0 || this.ended)) {
      const line = this.lines.shift();
      const wake = this.waiters.shift()!;
      if (line === undefined) wake(undefined);
      else wake(parse(line));
    }
  }
}

function parse(line: string): SyncMessage {
  try {
    const m = JSON.parse(line) as { data?: unknown; message?: unknown };
    if (typeof m.data !== 'number') return { data: -1, message: `unexpected message ${line}` };
    return { data: m.data, message: typeof m.message === 'string' ? m.message : undefined };
  } catch {
    return { data: -1, message: `unparsable message ${line}` };
  }
}
