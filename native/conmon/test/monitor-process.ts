// Process-level helpers for the crius-conmon tests: start a monitor with the
// sync/start/attach pipes as runtime-svc does, read its sync messages, run
// the attach client, and look at live processes through /proc.
import path from 'node:path';
import os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BUILD_DIR, waitFor } from './basics.js';

export const ATTACH_CLIENT = join(BUILD_DIR, 'attach-bridge');

/** One line from the sync pipe. */
export type SyncMessage = Record<string, number | string>;

/** Reads JSON lines from the monitor's sync pipe as they arrive. */
export class SyncReader {
  private buf = '';
  private lines: SyncMessage[] = [];
  private waiters: Array<() => void> = [];
  ended = false;

  constructor(private readonly stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(this.buf.slice(0, nl)) as SyncMessage);
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** The next message; rejects on EOF or after timeoutMs. */
  async next(timeoutMs = 20_000): Promise<SyncMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('sync pipe closed without a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no sync message within ${timeoutMs} ms`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
    return this.lines.shift()!;
  }

  /** Resolves when the monitor closed its end (it exited). */
  async closed(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`sync pipe still open after ${timeoutMs} ms`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export interface Launch {
  /** Exit code of the process we spawned (it exits once the monitor is up). */
  parentExit: number | null;
  stderr: string;
  sync: SyncReader;
  /** Only with attachPipe: messages on _OCI_ATTACHPIPE. */
  attach?: SyncReader;
  /** Only with attachPipe: second write to the start pipe (exec may run). */
  release(): void;
}

export interface LaunchOptions {
  attachPipe?: boolean;
  extraEnv?: Record<string, string>;
}

/** Spawns a monitor as runtime-svc would: pipes on fds 3 (sync), 4 (start), 5 (attach). */
export async function launch(bin: string, args: string[], opts: LaunchOptions = {}): Promise<Launch> {
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.extraEnv };
  env._OCI_SYNCPIPE = '3';
  env._OCI_STARTPIPE = '4';
  if (opts.attachPipe) {
    stdio.push('pipe');
    env._OCI_ATTACHPIPE = '5';
  }
  // Debian's conmon writes some files (e.g. "oom") relative to its working
  // directory: run it next to the bundle, inside the test's temp dir.
  const b = args.indexOf('-b');
  const bundleDir = b >= 0 && args[b + 1] ? path.dirname(args[b + 1]!) : undefined;
  const cwd = bundleDir && existsSync(bundleDir) ? bundleDir : os.tmpdir();
  const child: ChildProcess = spawn(bin, args, { stdio, env, cwd });
  // A monitor that refuses its arguments exits without reading the start
  // pipe; the reset that follows is expected, not a test failure.
  child.stdio.forEach((s) => (s as Readable | null)?.on('error', () => undefined));
  const sync = new SyncReader(child.stdio[3] as Readable);
  const pipes = child.stdio as unknown as Array<Readable | null>; // fd 5 is past the typed tuple
  const attach = opts.attachPipe ? new SyncReader(pipes[5] as Readable) : undefined;
  const start = child.stdio[4] as Writable;
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const stderrDone = new Promise((res) => child.stderr!.on('close', res));
  if (opts.attachPipe) start.write(Buffer.from([0]));
  else start.end(Buffer.from([0]));
  // 'exit', not 'close': the daemon keeps the sync pipe open long after.
  const parentExit = await new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  await stderrDone;
  return {
    parentExit,
    stderr,
    sync,
    attach,
    release: () => start.end(Buffer.from([0])),
  };
}

/** True while pid runs; a zombie counts as gone (PID 1 here reaps lazily). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sockets a process holds; lets a test wait until the monitor accepted its clients. */
export async function socketCount(pid: number): Promise<number> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.filter((l) => l.startsWith('socket:')).length;
}

/** Waits until the monitor holds `more` sockets beyond `baseline`. */
export async function waitForClients(monitorPid: number, baseline: number, more: number): Promise<void> {
  await waitFor(`${more} attach client(s) accepted`, async () =>
    (await socketCount(monitorPid)) >= baseline + more ? true : undefined,
  );
}

/** Runs the attach test client against a socket; resolves with its output. */
export function attachClient(
  socket: string,
  opts: { noStdin?: boolean; timeoutMs?: number } = {},
): { proc: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const args = [socket, '--timeout-ms', String(opts.timeoutMs ?? 20_000)];
  if (opts.noStdin) args.push('--no-stdin');
  const proc = spawn(ATTACH_CLIENT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    proc.on('close', (code) => res({ code, stdout, stderr })),
  );
  return { proc, done };
}
