// The OCI runtime CLI (runc, crun: same commands) for the calls runtime-svc
// makes itself; `create` is conmon's. Every call names the handler's binary
// and state root, so runc and crun containers never mix.
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
   * The command line of `exec` (foreground, stdio inherited): `cgroup` is a
   * sub-cgroup of the container's to run the process in (runc and crun:
   * `--cgroup <leaf>`, made beforehand in every hierarchy).
   */
  execCommand(id: string, processJsonPath: string, opts: { pidFile?: string; cgroup?: string } = {}): { cmd: string; args: string[] } {
    const args = [...this.base(), 'exec', '--process', processJsonPath];
    if (opts.pidFile) args.push('--pid-file', opts.pidFile);
    if (opts.cgroup) args.push('--cgroup', opts.cgroup);
    return { cmd: this.h.path, args: [...args, id] };
  }
}

