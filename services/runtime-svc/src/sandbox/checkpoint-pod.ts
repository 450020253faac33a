// CheckpointPod (KEP-5823): every running container of a pod into one pod
// checkpoint directory (checkpoint/pod-layout.ts). One consistent cut, as
// the KEP asks: all containers are paused before the first is dumped and
// resumed, whatever happens, after the last; the pod keeps running. On
// failure everything written into the directory is removed (the directory
// itself too when this call created it).
import { mkdir, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, type HandlerContext } from '@crius/common';
import type { CheckpointPodRequest } from '@crius/common/cri';
import { packDirectory } from '../checkpoint/archive.js';
import { archiveName, checkNoOptions, podFiles } from '../checkpoint/pod-layout.js';
import { checkpointBudget, checkpointTools, dumpOne, prepareDump, workDir, type CheckpointTools } from '../container/checkpoint.js';
import { refreshExit } from '../container/lifecycle.js';
import { pause, resume } from '../os/oci-checkpoint.js';
import type { Runtime } from '../runtime.js';
import type { ContainerRecord } from '../store/records.js';
import { containerConfig, sandboxConfig } from '../views.js';

/** An existing empty directory, or one we create (and then own). */
async function outputDir(dir: string, what: string): Promise<{ created: boolean }> {
  if (!dir || !path.isAbsolute(dir)) throw new InvalidArgumentError(`${what}: path ${JSON.stringify(dir)} is not an absolute path`);
  const st = await stat(dir).catch(() => undefined);
  if (!st) {
    const parent = await stat(path.dirname(dir)).catch(() => undefined);
    if (!parent?.isDirectory()) throw new InvalidArgumentError(`${what}: directory ${path.dirname(dir)} of path does not exist`);
    await mkdir(dir, { mode: 0o700 });
    return { created: true };
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`${what}: path ${dir} is not a directory`);
  if ((await readdir(dir)).length) throw new InvalidArgumentError(`${what}: directory ${dir} is not empty`);
  return { created: false };
}

/** Run `fn` holding the locks of all `ids`, taken in one order so two callers cannot deadlock. */
function withLocks<T>(rt: Runtime, ids: string[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = [...ids].sort();
  if (!first) return fn();
  return rt.locks.run(first, () => withLocks(rt, rest, fn));
}

export async function checkpointPod(rt: Runtime, req: CheckpointPodRequest, ctx: HandlerContext): Promise<void> {
  const what = `CheckpointPod ${req.podSandboxId}`;
  const until = Date.now() + checkpointBudget(rt, Number(req.timeout), ctx);
  checkNoOptions(req.options, what);
  const sb = rt.sandboxes.get(req.podSandboxId);
  if (sb.state !== 'ready') throw new FailedPreconditionError(`${what}: pod sandbox is not ready`);
  const ids = rt.containers.list().filter((c) => c.sandboxId === sb.id && c.state === 'running').map((c) => c.id);
  if (!ids.length) throw new FailedPreconditionError(`${what}: the pod has no running container to checkpoint`);
  const { created } = await outputDir(req.path, what);
  const written: string[] = [];
  try {
    await withLocks(rt, ids, async () => {
      const recs: ContainerRecord[] = [];
      for (const id of ids) recs.push(await refreshExit(rt, rt.containers.get(id)));
      const gone = recs.find((r) => r.state !== 'running');
      if (gone) throw new FailedPreconditionError(`${what}: container ${gone.id} is ${gone.state}, no longer running`);
      const tools = new Map<string, CheckpointTools>();
      for (const r of recs) tools.set(r.id, await checkpointTools(rt, r));
      const items = recs.map((r) => ({ rec: r, name: containerConfig(r).metadata?.name ?? r.name, archive: '', work: '' }));
      for (const [i, it] of items.entries()) {
        it.archive = archiveName(it.name, i);
        it.work = await workDir(path.join(req.path, it.archive));
        written.push(it.work);
        await prepareDump(rt, it.rec, it.work);
      }
      await dumpAllPaused(rt, items, tools, until, ctx);
      for (const it of items) {
        written.push(path.join(req.path, it.archive));
        await packDirectory(it.work, path.join(req.path, it.archive));
        await rm(it.work, { recursive: true, force: true });
      }
      const files = podFiles(sandboxConfig(sb), items.map((it) => ({ name: it.name, config: containerConfig(it.rec), archive: it.archive })), sb.runtimeHandler);
      for (const [name, text] of Object.entries(files)) {
        written.push(path.join(req.path, name));
        await writeFile(path.join(req.path, name), text, { mode: 0o600 });
      }
    });
    ctx.log.info({ sandbox: sb.id, path: req.path, containers: ids.length }, 'checkpointed pod');
  } catch (err) {
    for (const f of written) await rm(f, { recursive: true, force: true });
    if (created) await rmdir(req.path).catch(() => undefined);
    throw err;
  }
}

/** Pause every container, dump each, resume every one (also after a failure). */
async function dumpAllPaused(
  rt: Runtime,
  items: { rec: ContainerRecord; work: string }[],
  tools: Map<string, CheckpointTools>,
  until: number,
  ctx: HandlerContext,
): Promise<void> {
  const paused: ContainerRecord[] = [];
  try {
    for (const it of items) {
      await pause(tools.get(it.rec.id)!.oci, it.rec.id);
      paused.push(it.rec);
    }
    for (const it of items) await dumpOne(rt, it.rec, tools.get(it.rec.id)!, it.work, until);
  } finally {
    for (const r of paused) {
      await resume(tools.get(r.id)!.oci, r.id).catch((err) => ctx.log.error({ container: r.id, err: err.message }, 'resume after pod checkpoint failed'));
    }
  }
}
