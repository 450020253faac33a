// Container events (CRI ContainerEventResponse) published by runtime-svc on
// crius.v1.events.container.<id> at the moment a record changes state: the
// owner of the state is the one that can say it changed, exactly once.
// Sandbox events use the sandbox id as container_id, as kubelet's evented
// PLEG expects, and carry the pod status with its containers' statuses.
import { ContainerEventResponse, ContainerEventType } from '@crius/common/cri';
import type { Runtime } from './runtime.js';
import { containerStatusView, podSandboxStatusView } from './views.js';

export { ContainerEventType };

export function publishEvent(rt: Runtime, type: ContainerEventType, id: string, sandboxId: string): void {
  const sb = rt.sandboxes.find(sandboxId);
  const event: ContainerEventResponse = {
    containerId: id,
    containerEventType: type,
    createdAt: BigInt(Date.now()) * 1_000_000n,
    podSandboxStatus: sb ? podSandboxStatusView(sb) : undefined,
    containersStatuses: rt.containers
      .list()
      .filter((c) => c.sandboxId === sandboxId)
      .map(containerStatusView),
  };
  try {
    rt.deps.bus.publishEvent('container', id, ContainerEventResponse, event);
  } catch (err) {
    rt.log.warn({ err: (err as Error).message, id }, 'could not publish container event');
  }
}
