// Test helpers for the `crius` CLI: run the built CLI as a user would (a real
// child process), follow a long-running one line by line, and write the pod /
// container config files in crictl's snake_case shapes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { REPO_ROOT } from '../../services/cli/src/launcher/stack.js';
import { testCgroupParent } from '../harness/pod.js';

export const CLI = path.join(REPO_ROOT, 'services/cli/bin/crius.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `crius ARGS` to completion (killed after `timeoutMs`). */
export function crius(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `crius` (logs -f, events): lines as they come, killed by PID at the end. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private pending = '';
  private waiters = new Set<() => void>();

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      const parts = (this.pending + d.toString()).split('\n');
      this.pending = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.wake();
    });
    this.child.once('exit', () => this.wake());
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `ready()` holds, re-checked on every output; fails after `timeoutMs` or if the process exits first. */
  private until<T>(ready: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = ready();
        if (v !== undefined) return done(() => resolve(v));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() => reject(new Error(`crius exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; lines ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${what}; lines ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  waitForLines(n: number, timeoutMs = 15_000): Promise<string[]> {
    return this.until(() => (this.lines.length >= n ? this.lines.slice(0, n) : undefined), `${n} lines from crius`, timeoutMs);
  }

  /** Waits for text on stderr (e.g. `crius events` saying its stream is live). */
  waitForStderr(text: string, timeoutMs = 15_000): Promise<void> {
    return this.until(() => (this.stderr.includes(text) ? true : undefined), `${JSON.stringify(text)} on stderr`, timeoutMs).then(() => undefined);
  }

  /** Signals the process by its PID and waits for it to exit; returns the exit code or signal. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string | null> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return c.exitCode ?? c.signalCode;
    const done = new Promise<number | string | null>((r) => c.once('exit', (code, sig) => r(code ?? sig)));
    process.kill(c.pid!, signal);
    return done;
  }
}

let seq = 0;

/** A crictl-style pod config file (snake_case keys) whose logs and cgroups stay in the stack's dir. */
export async function writePodConfig(stackDir: string, name: string, ext: 'json' | 'yaml' = 'json'): Promise<{ file: string; logDir: string }> {
  const n = ++seq;
  const logDir = path.join(stackDir, 'pods', `${name}-${n}`);
  await mkdir(logDir, { recursive: true });
  const pod = {
    metadata: { name, namespace: 'cli', uid: `cli-${process.pid}-${n}-${Date.now()}`, attempt: 0 },
    hostname: name,
    log_directory: logDir,
    labels: { app: name },
    linux: { cgroup_parent: testCgroupParent(stackDir), security_context: { namespace_options: { network: 'POD' } } },
  };
  const file = path.join(stackDir, `${name}-${n}.pod.${ext}`);
  await writeFile(file, ext === 'json' ? JSON.stringify(pod, null, 2) : toYaml(pod));
  return { file, logDir };
}

/** A crictl-style container config file. */
export async function writeCtrConfig(stackDir: string, name: string, image: string, command: string[]): Promise<string> {
  const ctr = { metadata: { name }, image: { image }, command, log_path: `${name}.log`, labels: { ctr: name }, linux: { security_context: {} } };
  const file = path.join(stackDir, `${name}-${++seq}.ctr.json`);
  await writeFile(file, JSON.stringify(ctr, null, 2));
  return file;
}
