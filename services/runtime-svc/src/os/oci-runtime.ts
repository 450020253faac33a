// The OCI runtime CLI (runc, crun: same commands) for the calls runtime-svc
// makes itself; `create` is conmon's. Every call names the handler's binary
// and state root, so runc and crun containers never mix.
import { spawn } from 'node:child_process';
import { DeadlineExceededError, NotFoundError } from '@crius/common';
import { run } from './exec.js';

export interface RuntimeHandlerPaths {
  path: string;
  root: string;
  args: string[];
}

export interface OciState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused' | string;
}

export class OciRuntime {
  constructor(readonly h: RuntimeHandlerPaths) {}

  private base(): string[] {
    return [...this.h.args, '--root', this.h.root];
  }

  async start(id: string): Promise<void> {
    await run(this.h.path, [...this.base(), 'start', id]);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await run(this.h.path, [...this.base(), 'kill', ...(all ? ['--all'] : []), id, signal]);
  }

  /** State, or undefined when the runtime no longer knows the container. */
  async state(id: string): Promise<OciState | undefined> {
    try {
      const { stdout } = await run(this.h.path, [...this.base(), 'state', id]);
      return JSON.parse(stdout) as OciState;
    } catch (err) {
      if (/does not exist|not found|No such file/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    try {
      await run(this.h.path, [...this.base(), 'delete', '--force', id]);
    } catch (err) {
      if (/does not exist|not found|No such file/i.test((err as Error).message)) return;
      throw err;
    }
  }

  async update(id: string, resourcesJson: string): Promise<void> {
    await run(this.h.path, [...this.base(), 'update', '--resources', '-', id], { input: resourcesJson });
  }

  /**
   * Run a process in the container and capture its output, killing it at the
   * timeout. Output beyond `limit` bytes per stream is cut (and said so).
   */
  async execSync(id: string, processJsonPath: string, timeoutMs: number, limit: number): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const child = spawn(this.h.path, [...this.base(), 'exec', '--process', processJsonPath, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sizes = { out: 0, err: 0 };
    child.stdout.on('data', (d: Buffer) => {
      if (sizes.out < limit) out.push(d.subarray(0, limit - sizes.out));
      sizes.out += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (sizes.err < limit) err.push(d.subarray(0, limit - sizes.err));
      sizes.err += d.length;
    });
    let timedOut = false;
    const timer = timeoutMs > 0 ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), timeoutMs) : undefined;
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
    });
    if (timer) clearTimeout(timer);
    if (timedOut) throw new DeadlineExceededError(`exec in container ${id} timed out after ${timeoutMs / 1000} s`);
    const stderrText = Buffer.concat(err);
    if (exitCode !== 0 && /container .* does not exist|not running/i.test(stderrText.toString())) {
      throw new NotFoundError(`exec in container ${id}: ${stderrText.toString().trim()}`);
    }
    return { stdout: Buffer.concat(out), stderr: stderrText, exitCode };
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12 };
function signalNumber(name: string): number {
  return SIGNALS[name] ?? 0;
}
