// Exec and attach sessions behind the gateway's streaming URLs (crius.v1.
// runtime.ExecSession / AttachSession). Each starts the process, replies once
// it runs, then relays its stdio over the session's bus pipe until it ends;
// when the pipe ends first (client gone, gateway gone) the process is killed.
// Exec: `runc exec` with pipes (no terminal). Attach: native/conmon's
// attach-bridge on the container's conmon attach socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import os from 'node:os';
import path from 'node:path';
import { BusPipe, FailedPreconditionError, InternalError, NotFoundError, UnimplementedError, pumpFromPipe, pumpToPipe, type BusPipeOptions } from '@crius/common';
import type { AttachSessionRequest, ExecSessionRequest } from '@crius/common/proto/streams';
import type { Runtime } from '../runtime.js';
import type { OciSpec } from '../spec/index.js';
import { canExec } from '../store/container-state.js';
import type { ContainerRecord } from '../store/records.js';
import { containerConfig } from '../views.js';
import { refreshExit } from './lifecycle.js';

/** Pipe settings; tests shorten the timeouts. */
export const sessionPipeOptions: BusPipeOptions = {};

async function runningRecord(rt: Runtime, id: string): Promise<ContainerRecord> {
  const rec = await refreshExit(rt, rt.containers.get(id));
  canExec(rec);
  return rec;
}

export async function startExecSession(rt: Runtime, req: ExecSessionRequest): Promise<void> {
  if (req.tty) throw new UnimplementedError(`exec with a terminal in container ${req.containerId} is not supported yet: run it without -t`);
  if (req.cmd.length === 0) throw new FailedPreconditionError(`exec in container ${req.containerId}: no command`);
  const rec = await runningRecord(rt, req.containerId);
  const spec = JSON.parse(await readFile(path.join(rec.bundle, 'config.json'), 'utf8')) as OciSpec;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-exec-'));
  const processFile = path.join(dir, 'process.json');
  const pidFile = path.join(dir, 'pid');
  await writeFile(processFile, JSON.stringify({ ...spec.process, args: req.cmd, terminal: false }), { mode: 0o600 });
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
  void relay(rt, req.sessionId, child, what, kill).finally(() => void rm(dir, { recursive: true, force: true }));
}

export async function startAttachSession(rt: Runtime, req: AttachSessionRequest): Promise<void> {
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
  void relay(rt, req.sessionId, child, what, async () => void child.kill('SIGKILL'), async (size) => {
    await resize(path.join(rec.bundle, 'ctl'), size).catch((err) => rt.log.debug({ container: rec.id, err: (err as Error).message }, 'resize failed'));
  });
}

/** Relays a started child's stdio over the session pipe and reports its exit; runs in the background. */
async function relay(
  rt: Runtime,
  sid: string,
  child: ChildProcess,
  what: string,
  kill: () => Promise<void>,
  onResize?: (size: { width: number; height: number }) => Promise<void>,
): Promise<void> {
  const pipe = new BusPipe(rt.deps.bus.nc, sid, 'service', sessionPipeOptions);
  if (onResize) pipe.onResize((size) => void onResize(size));
  child.stdin?.on('error', () => undefined); // EPIPE when the process exits first
  if (child.stdin) void pumpFromPipe(pipe, 'stdin', child.stdin);
  const outputs = [child.stdout && pumpToPipe(pipe, 'stdout', child.stdout), child.stderr && pumpToPipe(pipe, 'stderr', child.stderr)];
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0))));
  const ended = await Promise.race([exited.then((code) => ({ code })), pipe.done.then((end) => ({ end }))]);
  if ('end' in ended) {
    rt.log.info({ session: sid, ended: ended.end.kind }, `${what}: session ended before the process; killing it`);
    await kill();
    await exited;
    return;
  }
  await Promise.all(outputs);
  pipe.sendExit(ended.code);
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

/** conmon's ctl fifo: "1 <height> <width>\n" resizes the terminal. Non-blocking: no reader means no conmon. */
async function resize(ctl: string, size: { width: number; height: number }): Promise<void> {
  const fh = await open(ctl, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  try {
    await fh.write(`1 ${size.height} ${size.width}\n`);
  } finally {
    await fh.close();
  }
}
