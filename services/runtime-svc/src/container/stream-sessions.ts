// Exec and attach sessions behind the gateway's streaming URLs (crius.v1.
// runtime.ExecSession / AttachSession). Each starts the process, replies once
// it runs, then relays its stdio over the session's bus pipe until it ends;
// when the pipe ends first (client gone, gateway gone) the process is killed.
// Exec: `runc exec` with pipes, or with a terminal conmon's exec mode
// (exec-tty.ts). Attach: native/conmon's attach-bridge on the container's
// conmon attach socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { containerProcess, writeExecProcess } from './exec-process.js';
import { constants } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BusPipe, FailedPreconditionError, InternalError, NotFoundError, pumpFromPipe, pumpToPipe, sessionAddress, type BusPipeOptions, type PipeAddress } from '@crius/common';
import type { AttachSessionRequest, ExecSessionRequest } from '@crius/common/proto/streams';
import type { Runtime } from '../runtime.js';
import type { OciSpec } from '../spec/index.js';
import { canExec } from '../store/container-state.js';
import type { ContainerRecord } from '../store/records.js';
import { containerConfig } from '../views.js';
import { startTtyExec, writeResize } from './exec-tty.js';
import { refreshExit } from './lifecycle.js';

/** Pipe settings; tests shorten the timeouts. */
export const sessionPipeOptions: BusPipeOptions = {};

async function runningRecord(rt: Runtime, id: string): Promise<ContainerRecord> {
  const rec = await refreshExit(rt, rt.containers.get(id));
  canExec(rec);
  return rec;
}

export async function startExecSession(rt: Runtime, req: ExecSessionRequest): Promise<void> {
  const pipe = sessionAddress('runtime', 'ExecSession', req);
  if (req.cmd.length === 0) throw new FailedPreconditionError(`exec in container ${req.containerId}: no command`);
  const rec = await runningRecord(rt, req.containerId);
  const proc = await containerProcess(rec);
  if (req.tty) return startTtyExecSession(rt, req, pipe, rec, proc);
  const { dir, processFile } = await writeExecProcess('crius-exec-', { ...proc, args: req.cmd, terminal: false });
  const pidFile = path.join(dir, 'pid');
  const oci = rt.ociRuntime(rec.runtimeHandler);
  const child = spawn(oci.h.path, [...oci.h.args, '--root', oci.h.root, 'exec', '--pid-file', pidFile, '--process', processFile, rec.id], {
    stdio: [req.stdin ? 'pipe' : 'ignore', req.stdout ? 'pipe' : 'ignore', req.stderr ? 'pipe' : 'ignore'],
  });
  const what = `exec ${JSON.stringify(req.cmd.join(' '))} in container ${rec.id}`;
  await spawned(child, what).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  // Kill the exec'd process itself, not only runc: runc cannot forward SIGKILL.
  const kill = async () => {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 0) tryKill(pid);
    child.kill('SIGKILL');
  };
  void relay(rt, pipe, what, { ...childStreams(child), exited: exitOf(child), kill }).finally(() => void rm(dir, { recursive: true, force: true }));
}

/** Exec with a terminal: conmon's exec mode serves the pty; its sync pipe reports the exit code. */
async function startTtyExecSession(rt: Runtime, req: ExecSessionRequest, pipe: PipeAddress, rec: ContainerRecord, proc: OciSpec['process']): Promise<void> {
  const oci = rt.ociRuntime(rec.runtimeHandler);
  const exec = await startTtyExec({
    conmon: rt.conmonPath,
    attachBridge: rt.attachBridgePath,
    containerId: rec.id,
    runtimePath: oci.h.path,
    runtimeArgs: [...oci.h.args, '--root', oci.h.root],
    socketDir: rt.attachDir,
    process: { ...proc, args: req.cmd },
    stdin: req.stdin,
  });
  if (!req.stdout) exec.stdout.resume();
  const what = `exec ${JSON.stringify(req.cmd.join(' '))} in container ${rec.id} with a terminal`;
  void relay(rt, pipe, what, {
    stdin: exec.stdin,
    stdout: req.stdout ? exec.stdout : undefined,
    exited: exec.exitCode,
    kill: exec.kill,
    onResize: (size) => exec.resize(size).catch((err) => rt.log.debug({ container: rec.id, err: (err as Error).message }, 'exec resize failed')),
  });
}

export async function startAttachSession(rt: Runtime, req: AttachSessionRequest): Promise<void> {
  const pipe = sessionAddress('runtime', 'AttachSession', req);
  const rec = await runningRecord(rt, req.containerId);
  const cfg = containerConfig(rec);
  if (req.stdin && !cfg.stdin) throw new FailedPreconditionError(`attach to container ${rec.id} with stdin: the container was created without stdin`);
  if (req.tty !== cfg.tty) throw new FailedPreconditionError(`attach to container ${rec.id}: tty=${req.tty} requested but the container has tty=${cfg.tty}`);
  const socket = path.join(rt.attachDir, rec.id.slice(0, 12), 'attach');
  if (!existsSync(socket)) throw new NotFoundError(`attach to container ${rec.id}: its monitor has no attach socket at ${socket}`);
  const bridge = rt.attachBridgePath;
  const child = spawn(bridge, [socket, ...(req.stdin ? [] : ['--no-stdin'])], {
    stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const what = `attach to container ${rec.id}`;
  await spawned(child, what);
  // Output the client did not ask for is read and dropped: conmon must not see a stalled client.
  if (!req.stdout) child.stdout!.resume();
  if (!req.stderr) child.stderr!.resume();
  void relay(rt, pipe, what, {
    ...childStreams(child),
    exited: exitOf(child),
    kill: async () => void child.kill('SIGKILL'),
    onResize: async (size) => {
      await writeResize(path.join(rec.bundle, 'ctl'), size).catch((err) => rt.log.debug({ container: rec.id, err: (err as Error).message }, 'resize failed'));
    },
  });
}

/** What relay() connects to the session pipe. */
interface RelayTarget {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** The exit code to report; a rejection becomes the session's error. */
  exited: Promise<number>;
  kill: () => Promise<void>;
  onResize?: (size: { width: number; height: number }) => Promise<void>;
}

function childStreams(child: ChildProcess): Pick<RelayTarget, 'stdin' | 'stdout' | 'stderr'> {
  return { stdin: child.stdin ?? undefined, stdout: child.stdout ?? undefined, stderr: child.stderr ?? undefined };
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0))));
}

/** Relays a started process's stdio over the session pipe and reports its exit; runs in the background. */
async function relay(rt: Runtime, address: PipeAddress, what: string, t: RelayTarget): Promise<void> {
  const pipe = new BusPipe(rt.deps.bus.nc, address, 'service', sessionPipeOptions);
  const onResize = t.onResize;
  if (onResize) pipe.onResize((size) => void onResize(size));
  t.stdin?.on('error', () => undefined); // EPIPE when the process exits first
  if (t.stdin) void pumpFromPipe(pipe, 'stdin', t.stdin);
  const outputs = [t.stdout && pumpToPipe(pipe, 'stdout', t.stdout), t.stderr && pumpToPipe(pipe, 'stderr', t.stderr)];
  const exited = t.exited.then((code) => ({ code }), (error: unknown) => ({ error }));
  const ended = await Promise.race([exited, pipe.done.then((end) => ({ end }))]);
  if ('end' in ended) {
    rt.log.info({ session: address.sid, ended: ended.end.kind }, `${what}: session ended before the process; killing it`);
    await t.kill();
    await exited;
    return;
  }
  await Promise.all(outputs);
  if ('error' in ended) pipe.sendError(ended.error);
  else pipe.sendExit(ended.code);
}

function spawned(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new InternalError(`${what}: cannot start ${child.spawnfile}: ${err.message}`, { cause: err })));
  });
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
