// Runs one external program (unshare, umount, a CNI plugin) and collects its
// output. Owned by network-svc; the only place it spawns processes, so tests
// and pure logic can swap in a fake CommandRunner.
import { spawn } from 'node:child_process';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Kill the process (SIGKILL, by PID) after this many milliseconds. */
  timeoutMs?: number;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export type CommandRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<CommandResult>;

// A plugin printing without end must not exhaust our memory.
const MAX_OUTPUT = 8 * 1024 * 1024;

/** Spawns `file` without a shell. Rejects only when the program cannot start. */
export const runCommand: CommandRunner = (file, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      if ((outLen += b.length) <= MAX_OUTPUT) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if ((errLen += b.length) <= MAX_OUTPUT) err.push(b);
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.timeoutMs !== undefined && child.pid !== undefined) {
      const pid = child.pid;
      timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, opts.timeoutMs);
    }
    // A program that exits without reading stdin makes the write fail with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });

/** Runs and throws unless the program exits 0; the message names the command. */
export async function runChecked(run: CommandRunner, file: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
  const res = await run(file, args, opts);
  if (res.code !== 0) {
    const why = res.timedOut ? 'timed out' : res.signal ? `killed by ${res.signal}` : `exit code ${res.code}`;
    throw new Error(`${file} ${args.join(' ')}: ${why}: ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res;
}
