// StopPodSandbox and RemovePodSandbox: idempotent, safe to repeat after a
// partial failure (each step checks what is still there). Stop kills the
// pod's containers, releases its network and /dev/shm; Remove stops first,
// then removes containers, namespace pins, files and the record. Unknown ids
// succeed: CRI asks for no error once everything is already reclaimed.
import { rm } from 'node:fs/promises';
import type { HandlerContext } from '@crius/common';
import { PodNetworkRequest, TearDownPodResponse } from '@crius/common/proto/network';
import type { Runtime } from '../runtime.js';
import { stopPause } from './pause.js';
import { ContainerEventType, publishEvent } from '../events.js';

export async function stopPodSandbox(rt: Runtime, id: string, ctx: HandlerContext): Promise<void> {
  const found = rt.sandboxes.find(id);
  if (!found) {
    ctx.log.info({ sandbox: id }, 'stop of an unknown sandbox: already gone');
    return;
  }
  await rt.locks.run(found.id, async () => {
    const sb = rt.sandboxes.get(found.id);
    for (const c of rt.containers.list().filter((c) => c.sandboxId === sb.id)) {
      await rt.stopContainer(c.id, 0, ctx);
    }
    if (sb.netnsPath) {
      await rt.deps.bus.call('network', 'TearDownPod', PodNetworkRequest, TearDownPodResponse, { sandboxId: sb.id }, { requestId: ctx.requestId });
    }
    if (sb.pause) await stopPause(rt, sb);
    if (sb.shmPath && sb.shmPath !== '/dev/shm') await rt.deps.os.unmount(sb.shmPath);
    if (sb.state !== 'notready') {
      await rt.sandboxes.update(sb.id, () => ({ state: 'notready' }));
      publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, sb.id, sb.id);
    }
  });
}

export async function removePodSandbox(rt: Runtime, id: string, ctx: HandlerContext): Promise<void> {
  const found = rt.sandboxes.find(id);
  if (!found) return;
  await stopPodSandbox(rt, found.id, ctx);
  await rt.locks.run(found.id, async () => {
    const sb = rt.sandboxes.find(found.id);
    if (!sb) return;
    for (const c of rt.containers.list().filter((c) => c.sandboxId === sb.id)) await rt.removeContainer(c.id, ctx);
    for (const f of [sb.ipcPath, sb.utsPath]) if (f) await rt.deps.os.unpin(f);
    await rm(rt.sandboxRunDir(sb.id), { recursive: true, force: true });
    await rt.sandboxes.remove(sb.id);
    publishEvent(rt, ContainerEventType.CONTAINER_DELETED_EVENT, sb.id, sb.id);
  });
}
