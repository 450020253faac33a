// ExecSync (crius.v1.runtime.ExecSync): `runc exec` of a command in a running
// container, in a sub-cgroup of its own (os/exec-cgroup.ts), capturing
// stdout and stderr, each cut at 16 MiB (api.proto: "Output should be capped
// (16 MiB per stream) by the runtime").
//
// Timeout (seconds; 0 = run until done): when it passes, or the caller's
// deadline does first, the whole sub-cgroup is killed, so no process the
// command started survives (children, setsid'd or daemonized ones), while the
// container's own processes are never touched. The reply is then the gRPC
// status DEADLINE_EXCEEDED, as containerd answers ("timeout … exceeded:
// context deadline exceeded"); the kubelet turns exactly that code into a
// probe timeout ("command … timed out", a failed probe). CRI-O answers an
// OK reply with exit code -1 instead, which the kubelet also counts as a
// failure; we follow containerd so a timeout is never mistaken for an exit
// code the command could have returned.
//
// When the command ends by itself, what it deliberately left running is
// handed to the container's cgroup and keeps running, as with containerd and
// CRI-O.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { DeadlineExceededError, InternalError, NotFoundError, type HandlerContext } from '@crius/common';
import type { ExecSyncResponse } from '@crius/common/cri';
import { ExecCgroup } from '../os/exec-cgroup.js';
import type { Runtime } from '../runtime.js';
import { canExec } from '../store/container-state.js';
import type { ContainerRecord } from '../store/records.js';
import { containerProcess, writeExecProcess } from './exec-process.js';
import { refreshExit } from './lifecycle.js';
import { sameProcess } from './proc.js';

/** Per stream (api.proto). */
export const EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024;

/**
 * Bytes kept per ExecSync stream: CRI's 16 MiB, but never so much that stdout and stderr
 * together outgrow one bus message and gRPC reply (api.max_msg_size, also the kubelet's
 * 16 MiB limit): the command must "proceed with no error", not fail as too large.
 */
export function execOutputLimit(maxMsgSize: number): number {
  return Math.min(EXEC_OUTPUT_LIMIT, Math.floor((maxMsgSize - 4096) / 2));
}

export async function execSync(rt: Runtime, id: string, cmd: string[], timeoutSeconds: number, ctx: Pick<HandlerContext, 'signal'>): Promise<ExecSyncResponse> {
  const rec = await refreshExit(rt, rt.containers.get(id));
  canExec(rec);
  const { dir, processFile } = await writeExecProcess('crius-exec-', { ...(await containerProcess(rec)), args: cmd, terminal: false });
  const cg = await execCgroup(rt, rec);
  const what = `exec ${JSON.stringify(cmd.join(' '))} in container ${rec.id}`;
  try {
    const pidFile = path.join(dir, 'pid');
    const { cmd: bin, args } = rt.ociRuntime(rec.runtimeHandler).execCommand(rec.id, processFile, { pidFile, cgroup: cg?.leaf });
    // Without a cgroup (none found for the container) only the exec'd process itself can be killed.
    const killTree = cg ? () => cg.kill() : async () => killPid(Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()));
    const r = await runCaptured(bin, args, { timeoutMs: timeoutSeconds * 1000, signal: ctx.signal, limit: execOutputLimit(rt.deps.config.api.max_msg_size), killTree });
    if (r.ended !== 'exited') {
      const why = r.ended === 'timeout' ? `timed out after ${timeoutSeconds} s` : "ran past the caller's deadline";
      throw new DeadlineExceededError(`${what}: ${why}; it was killed with every process it started`);
    }
    await cg?.release().catch((err) => rt.log.warn({ container: rec.id, err: (err as Error).message }, 'exec cgroup cleanup failed'));
    const stderrText = r.stderr.toString();
    if (r.exitCode !== 0 && /container .* does not exist|not running/i.test(stderrText)) throw new NotFoundError(`${what}: ${stderrText.trim()}`);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  } catch (err) {
    await cg?.kill().catch(() => undefined); // runc could not be run, or failed: nothing of the command may stay
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh sub-cgroup under the container's, or undefined (logged) when its cgroup cannot be found. */
async function execCgroup(rt: Runtime, rec: ContainerRecord): Promise<ExecCgroup | undefined> {
  if (!(await sameProcess(rec.pid, rec.pidStartTime))) return undefined; // gone: runc exec reports it
  try {
    return await ExecCgroup.create(rec.pid);
  } catch (err) {
    rt.log.warn({ container: rec.id, err: (err as Error).message }, 'exec without its own cgroup: on timeout only the exec process itself can be killed');
    return undefined;
  }
}

export interface Captured {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  ended: 'exited' | 'timeout' | 'aborted';
}

export interface CaptureOptions {
  /** 0: no timeout. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Bytes kept per stream; the rest is read and dropped so the command never blocks on a full pipe. */
  limit: number;
  /** Kills the command's processes; the runtime's own process then exits. */
  killTree: () => Promise<void>;
}

/** Runs `bin args`, keeping at most `limit` bytes of each output stream, until it exits or is killed at the timeout. */
export async function runCaptured(bin: string, args: string[], o: CaptureOptions): Promise<Captured> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = capped(child.stdout, o.limit);
  const err = capped(child.stderr, o.limit);
  const closed = new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(new InternalError(`cannot run ${bin}: ${e.message}`, { cause: e })));
    child.once('close', (code, sig) => resolve(code ?? 128 + (sig ? constants.signals[sig] : 0)));
  });
  let ended: Captured['ended'] = 'exited';
  let killing: Promise<void> | undefined;
  const stop = (why: Captured['ended']) => {
    if (killing) return;
    ended = why;
    killing = o.killTree().finally(() => {
      // The runtime exits once its process is gone; if it lingers, it goes too.
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      void closed.then(() => clearTimeout(t), () => clearTimeout(t));
    });
  };
  const timer = o.timeoutMs > 0 ? setTimeout(() => stop('timeout'), o.timeoutMs) : undefined;
  const onAbort = () => stop('aborted');
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  try {
    const exitCode = await closed;
    await killing; // the tree is gone (and its cgroup removed) before the caller hears of it
    return { stdout: out(), stderr: err(), exitCode, ended };
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}

function capped(stream: NodeJS.ReadableStream, limit: number): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (d: Buffer) => {
    if (size < limit) chunks.push(d.subarray(0, limit - size));
    size += d.length;
  });
  return () => Buffer.concat(chunks);
}

function killPid(pid: number): void {
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
