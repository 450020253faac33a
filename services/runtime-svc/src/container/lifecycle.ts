// StartContainer, StopContainer, RemoveContainer and
// UpdateContainerResources (ExecSync is exec-sync.ts). Each takes the
// container's lock, checks the state machine (store/container-state.ts), and
// updates the record only after the OS action succeeded.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { HandlerContext } from '@crius/common';
import { LinuxContainerResources } from '@crius/common/cri';
import { RemoveRootfsResponse, RootfsRequest } from '@crius/common/proto/storage';
import { removeCgroup } from '../os/cgroups.js';
import type { Runtime } from '../runtime.js';
import { buildResources, kernelSignal } from '../spec/index.js';
import { canStart, canUpdateResources, needsStop } from '../store/container-state.js';
import type { ContainerRecord } from '../store/records.js';
import { containerStopSignal } from '../views.js';
import { exitReason, readExit } from './exits.js';
import { ContainerEventType, publishEvent } from '../events.js';
import { discardRestoreImages, stopUnrestored } from './restore.js';
import { startRestored } from './restore-start.js';

const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();

/** If conmon recorded an exit, make the record say so. */
export async function refreshExit(rt: Runtime, rec: ContainerRecord): Promise<ContainerRecord> {
  if (rec.state === 'exited') return rec;
  const exit = await readExit(rt.exitDir, rec);
  if (!exit) return rec;
  const next = await rt.containers.update(rec.id, () => ({
    state: 'exited',
    exitCode: exit.exitCode,
    finishedAt: exit.finishedAt,
    reason: exitReason(exit),
    message: exit.oomKilled ? 'container was killed by the OOM killer' : '',
  }));
  publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, next.id, next.sandboxId);
  return next;
}

export async function startContainer(rt: Runtime, id: string, ctx?: HandlerContext): Promise<void> {
  const found = rt.containers.get(id);
  await rt.locks.run(found.id, async () => {
    const rec = await refreshExit(rt, rt.containers.get(found.id));
    canStart(rec);
    if (rec.restore) return startRestored(rt, { ...rec, restore: rec.restore }, ctx);
    // Taken before the process can run: a command that ends at once must not
    // finish (conmon's exit time) before it started.
    const startedAt = nowNs();
    try {
      await rt.ociRuntime(rec.runtimeHandler).start(rec.id);
    } catch (err) {
      await rt.containers.update(rec.id, () => ({ state: 'exited', exitCode: 128, finishedAt: nowNs(), reason: 'StartError', message: (err as Error).message }));
      publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, rec.id, rec.sandboxId);
      throw err;
    }
    await rt.containers.update(rec.id, () => ({ state: 'running', startedAt }));
    publishEvent(rt, ContainerEventType.CONTAINER_STARTED_EVENT, rec.id, rec.sandboxId);
  });
}

async function waitForExit(rt: Runtime, rec: ContainerRecord, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    if (await readExit(rt.exitDir, rec)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, until - Date.now()))));
  }
}

/** The signal a stop sends first, as the kernel number the OCI runtime's kill takes. */
function stopSignal(rec: ContainerRecord): string {
  return String(kernelSignal(containerStopSignal(rec)));
}

export async function stopContainer(rt: Runtime, id: string, timeoutSeconds: number, ctx: HandlerContext): Promise<void> {
  const found = rt.containers.get(id);
  await rt.locks.run(found.id, async () => {
    let rec = await refreshExit(rt, rt.containers.get(found.id));
    if (!needsStop(rec.state)) return;
    if (rec.restore) return void (await stopUnrestored(rt, rec));
    const oci = rt.ociRuntime(rec.runtimeHandler);
    const alive = (await oci.state(rec.id))?.status;
    if (alive === 'running' || alive === 'created' || alive === 'paused') {
      if (timeoutSeconds > 0 && alive === 'running') {
        await oci.kill(rec.id, stopSignal(rec)).catch((err) => ctx.log.warn({ err: err.message }, 'stop signal failed'));
        if (await waitForExit(rt, rec, timeoutSeconds * 1000)) return void (await refreshExit(rt, rec));
      }
      await oci.kill(rec.id, 'SIGKILL', true).catch((err) => ctx.log.warn({ err: err.message }, 'SIGKILL failed'));
    }
    if (!(await waitForExit(rt, rec, 10_000))) {
      // conmon is gone too (e.g. killed): nothing will write the exit file.
      rec = await rt.containers.update(rec.id, () => ({ state: 'exited', exitCode: 137, finishedAt: nowNs(), reason: 'Error', message: 'container monitor is gone; exit code unknown' }));
      publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, rec.id, rec.sandboxId);
      return;
    }
    await refreshExit(rt, rec);
  });
}

export async function removeContainer(rt: Runtime, id: string, ctx: HandlerContext): Promise<void> {
  const found = rt.containers.find(id);
  if (!found) return;
  await stopContainer(rt, found.id, 0, ctx);
  await rt.locks.run(found.id, async () => {
    const rec = rt.containers.find(found.id);
    if (!rec) return;
    await rt.ociRuntime(rec.runtimeHandler).delete(rec.id);
    await rt.deps.bus.call('storage', 'RemoveRootfs', RootfsRequest, RemoveRootfsResponse, { containerId: rec.id }, { requestId: ctx.requestId });
    const sb = rt.sandboxes.find(rec.sandboxId);
    if (sb) await removeCgroup(sb.cgroupParent, `crius-conmon-${rec.id}`);
    await rm(rec.bundle, { recursive: true, force: true });
    await discardRestoreImages(rt, rec.restore);
    await rm(path.join(rt.exitDir, rec.id), { force: true });
    await rt.containers.remove(rec.id);
    publishEvent(rt, ContainerEventType.CONTAINER_DELETED_EVENT, rec.id, rec.sandboxId);
  });
}

/** No `linux` (both it and `windows` are optional): nothing to change, as CRI-O and containerd answer. */
export async function updateResources(rt: Runtime, id: string, linux: LinuxContainerResources | undefined): Promise<void> {
  const found = rt.containers.get(id);
  await rt.locks.run(found.id, async () => {
    const rec = await refreshExit(rt, rt.containers.get(found.id));
    canUpdateResources(rec);
    if (!linux) return;
    const facts = await rt.hostFacts();
    const warnings: string[] = [];
    const resources = buildResources(linux, facts, warnings);
    for (const w of warnings) rt.log.warn({ container: rec.id }, w);
    await rt.ociRuntime(rec.runtimeHandler).update(rec.id, JSON.stringify(resources));
    // ContainerStatus reports what is applied now: kubelet's in-place resize waits for it.
    await rt.containers.update(rec.id, () => ({ resources: Buffer.from(LinuxContainerResources.encode(linux).finish()).toString('base64') }));
  });
}
