// One supervised child process: started, restarted with exponential backoff
// when it dies unexpectedly, stopped with SIGTERM then SIGKILL. Output goes
// to a log file per child so the launcher's terminal stays readable.
//
// Each child runs in its own process group, so a Ctrl-C that the terminal
// sends to the launcher's whole group reaches the launcher alone: it must stop
// the stack in order (demo pod first, then gateway, services, NATS), which
// children stopping on their own at the same moment would defeat. So that a
// child never outlives a launcher that is killed outright, it is started
// under `setpriv --pdeathsig TERM` (util-linux), which execs the real command
// in the same process with PR_SET_PDEATHSIG set.
//
// Emits 'started' (pid) for every process it spawns and 'exited' (code,
// signal) for every one that ends, so callers wait on those, not on time.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { EventEmitter } from 'node:events';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** setpriv(1) from util-linux; with it a child gets SIGTERM when the launcher dies. */
export const SETPRIV = '/usr/bin/setpriv';

const BACKOFF_START_MS = 200;
const BACKOFF_MAX_MS = 10_000;
/** A child that stayed up this long is healthy again: its backoff resets. */
const STABLE_AFTER_MS = 30_000;

export class Supervised extends EventEmitter {
  private child?: ChildProcess;
  private stopping = false;
  private backoff = BACKOFF_START_MS;
  private restartTimer?: NodeJS.Timeout;
  restarts = 0;

  constructor(readonly spec: ChildSpec) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    const fd = openSync(this.spec.logFile, 'a');
    const startedAt = Date.now();
    const child = spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', this.spec.command, ...this.spec.args], {
      stdio: ['ignore', fd, fd],
      env: this.spec.env ?? process.env,
      detached: true,
    });
    closeSync(fd);
    this.child = child;
    if (child.pid !== undefined) this.emit('started', child.pid);
    child.once('error', (err) => this.emit('log', `${this.spec.name}: cannot start: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.emit('exited', code, signal);
      if (this.stopping) return;
      if (Date.now() - startedAt > STABLE_AFTER_MS) this.backoff = BACKOFF_START_MS;
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      this.restarts++;
      this.emit('log', `${this.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${wait} ms (see ${this.spec.logFile})`);
      this.restartTimer = setTimeout(() => this.start(), wait);
    });
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the child is gone. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** SIGKILL now, no restart (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
  }
}
