// runtime-svc recovery, run at every start before it answers.
// Assumptions:
// - Records on disk are the truth about what kubelet created; the OS (runc
//   state, exit files, mounts) is the truth about what is still running.
// - conmon outlives us: a running container's exit lands in the exit dir
//   whether or not we were up, so reading exit files catches every exit.
// - A bundle or sandbox dir without a record is a create that died half way:
//   it is undone (runtime delete, rootfs, namespaces, shm), never resumed.
// - An ExecSync sub-cgroup (os/exec-cgroup.ts) of a running container
//   belongs to a call that died with us: its processes are killed.
// - Other services may still be starting: cross-service cleanup (network,
//   storage) runs after we answer, retried until they reply.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PodNetworkRequest, ReconcileNetworkRequest, ReconcileNetworkResponse, TearDownPodResponse } from '@crius/common/proto/network';
import { ReconcileRootfsRequest, ReconcileRootfsResponse, RemoveRootfsResponse, RootfsRequest } from '@crius/common/proto/storage';
import { refreshExit } from './container/lifecycle.js';
import { sameProcess } from './container/proc.js';
import { ExecCgroup } from './os/exec-cgroup.js';
import type { ContainerRecord } from './store/records.js';
import type { Runtime } from './runtime.js';
import { pauseId } from './sandbox/pause.js';
import { sweepRestoreDirs } from './container/restore.js';

export async function recoverLocal(rt: Runtime): Promise<void> {
  for (const dir of [rt.exitDir, rt.attachDir, path.join(rt.deps.dirs.run, 'containers'), path.join(rt.deps.dirs.run, 'sandboxes')]) {
    await mkdir(dir, { recursive: true });
  }
  await rt.deps.os.preparePinDir(rt.pinDir);
  await rt.load();
  for (const c of rt.containers.list()) {
    if (c.state !== 'running' && c.state !== 'created') continue;
    if (c.restore) continue; // created from a checkpoint: no monitor until StartContainer restores it
    const rec = await refreshExit(rt, c);
    if (rec.state === 'exited') continue;
    const state = await rt.ociRuntime(rec.runtimeHandler).state(rec.id).catch(() => undefined);
    if (state && state.status !== 'stopped') await killLeftoverExecs(rt, rec);
    if (!state || state.status === 'stopped') {
      await rt.containers.update(rec.id, () => ({
        state: state ? 'exited' : 'unknown',
        reason: 'Error',
        message: 'the container ended while runtime-svc was down and no exit code was recorded',
      }));
    }
  }
  await undoHalfCreatedContainers(rt);
  await sweepRestoreDirs(rt);
  await undoHalfCreatedSandboxes(rt);
}

/** ExecSyncs cut off by our own restart: nobody waits for them, and their timeout died with us. */
async function killLeftoverExecs(rt: Runtime, rec: ContainerRecord): Promise<void> {
  if (!(await sameProcess(rec.pid, rec.pidStartTime))) return;
  for (const cg of await ExecCgroup.leftovers(rec.pid)) {
    rt.log.warn({ container: rec.id, cgroup: cg.leaf }, 'killing an ExecSync left running by an earlier runtime-svc');
    await cg.kill().catch((err) => rt.log.warn({ container: rec.id, err: (err as Error).message }, 'leftover exec kill failed'));
  }
}

async function orphans(dir: string, known: (id: string) => boolean): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n) && !known(n));
}

async function undoHalfCreatedContainers(rt: Runtime): Promise<void> {
  for (const id of await orphans(path.join(rt.deps.dirs.run, 'containers'), (id) => !!rt.containers.find(id))) {
    rt.log.warn({ container: id }, 'undoing a container create that did not finish');
    for (const handler of Object.keys(rt.deps.config.runtime.handlers)) await rt.ociRuntime(handler).delete(id).catch(() => undefined);
    rt.pendingCleanup.push(async () => {
      await rt.deps.bus.call('storage', 'RemoveRootfs', RootfsRequest, RemoveRootfsResponse, { containerId: id });
    });
    await rm(rt.bundleDir(id), { recursive: true, force: true });
  }
}

async function undoHalfCreatedSandboxes(rt: Runtime): Promise<void> {
  for (const id of await orphans(path.join(rt.deps.dirs.run, 'sandboxes'), (id) => !!rt.sandboxes.find(id))) {
    rt.log.warn({ sandbox: id }, 'undoing a sandbox create that did not finish');
    const dir = rt.sandboxRunDir(id);
    for (const handler of Object.keys(rt.deps.config.runtime.handlers)) await rt.ociRuntime(handler).delete(pauseId(id)).catch(() => undefined);
    await rt.deps.os.unmount(path.join(dir, 'shm'));
    for (const kind of ['ipc', 'uts']) await rt.deps.os.unpin(path.join(rt.pinDir, `${id}.${kind}`));
    rt.pendingCleanup.push(async () => {
      await rt.deps.bus.call('network', 'TearDownPod', PodNetworkRequest, TearDownPodResponse, { sandboxId: id });
    });
    await rm(dir, { recursive: true, force: true });
  }
  // Pins whose sandbox record is gone (a remove that died before unpinning).
  for (const name of await readdir(rt.pinDir).catch(() => [] as string[])) {
    const id = name.split('.')[0]!;
    if (!rt.sandboxes.find(id)) await rt.deps.os.unpin(path.join(rt.pinDir, name));
  }
}

/** Cross-service reconciliation, after we answer: retried until the other services reply. */
export async function reconcileWithServices(rt: Runtime, attempts = 60): Promise<void> {
  const { bus } = rt.deps;
  rt.pendingCleanup.push(async () => {
    const r = await bus.call('network', 'ReconcileNetwork', ReconcileNetworkRequest, ReconcileNetworkResponse, {
      knownSandboxIds: rt.sandboxes.list().filter((s) => s.netnsPath).map((s) => s.id),
    });
    for (const id of r.vanished) {
      const sb = rt.sandboxes.find(id);
      if (sb && sb.state === 'ready') await rt.sandboxes.update(id, () => ({ state: 'notready' }));
    }
  });
  rt.pendingCleanup.push(async () => {
    const r = await bus.call('storage', 'ReconcileRootfs', ReconcileRootfsRequest, ReconcileRootfsResponse, {
      knownContainerIds: rt.containers.list().map((c) => c.id),
    });
    for (const id of r.stale) await bus.call('storage', 'RemoveRootfs', RootfsRequest, RemoveRootfsResponse, { containerId: id });
  });
  for (let i = 0; i < attempts && rt.pendingCleanup.length; i++) {
    const step = rt.pendingCleanup[0]!;
    try {
      await step();
      rt.pendingCleanup.shift();
    } catch (err) {
      rt.log.debug({ err: (err as Error).message }, 'cross-service reconcile step will be retried');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  if (rt.pendingCleanup.length) {
    rt.log.error({ left: rt.pendingCleanup.length }, 'cross-service reconcile gave up; creates proceed without it');
    rt.pendingCleanup.length = 0;
  }
}
