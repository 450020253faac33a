// The OCI runtime's checkpoint commands (runc's CLI; crun has the same
// verbs): pause/resume around a dump, and the dump itself. Owner:
// runtime-svc. The dump runs in its own process group so a timeout kills the
// runtime and the CRIU it started together; the caller resumes the container.
import { spawn } from 'node:child_process';
import { DeadlineExceededError } from '@crius/common';
import type { OciRuntime } from './oci-runtime.js';
import { run } from './exec.js';

export interface DumpOptions {
  /** CRIU program, passed as runc's global --criu. */
  criu: string;
  /** Where CRIU writes its images. */
  imagePath: string;
  /** Where CRIU writes dump.log and stats-dump. */
  workPath: string;
  leaveRunning: boolean;
  timeoutMs: number;
}

/** The command line of a dump, as CRI-O runs it (file locks handled; no TCP repair). */
export function checkpointArgs(oci: OciRuntime, id: string, o: DumpOptions): string[] {
  return [
    ...oci.h.args,
    '--root',
    oci.h.root,
    '--criu',
    o.criu,
    'checkpoint',
    '--file-locks',
    '--image-path',
    o.imagePath,
    '--work-path',
    o.workPath,
    ...(o.leaveRunning ? ['--leave-running'] : []),
    id,
  ];
}

export async function pause(oci: OciRuntime, id: string): Promise<void> {
  await run(oci.h.path, [...oci.h.args, '--root', oci.h.root, 'pause', id]);
}

export async function resume(oci: OciRuntime, id: string): Promise<void> {
  await run(oci.h.path, [...oci.h.args, '--root', oci.h.root, 'resume', id]);
}

/** `runtime checkpoint`; rejects with the runtime's stderr, or DEADLINE_EXCEEDED after killing it. */
export function dump(oci: OciRuntime, id: string, o: DumpOptions): Promise<void> {
  return runGroup(oci.h.path, checkpointArgs(oci, id, o), o.timeoutMs, `checkpoint of container ${id}`);
}

function runGroup(cmd: string, args: string[], timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new DeadlineExceededError(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s; it was stopped`));
      if (code === 0) return resolve();
      reject(Object.assign(new Error(`${cmd} ${args.join(' ')}: ${out.trim() || `exit ${code ?? signal}`}`), { stderr: out }));
    });
  });
}
