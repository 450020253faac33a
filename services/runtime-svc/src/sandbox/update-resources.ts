// UpdatePodSandboxResources: the kubelet has already resized the pod's cgroup when it calls
// this; the sandbox's recorded config takes the pod-level overhead and resources it now has,
// as sent (containerd keeps them the same way). Nothing else of the config changes.
import { LinuxPodSandboxConfig, PodSandboxConfig, type UpdatePodSandboxResourcesRequest } from '@crius/common/cri';
import type { Runtime } from '../runtime.js';
import { sandboxConfig } from '../views.js';

export async function updatePodSandboxResources(rt: Runtime, req: UpdatePodSandboxResourcesRequest): Promise<void> {
  const found = rt.sandboxes.get(req.podSandboxId);
  await rt.locks.run(found.id, async () => {
    const sb = rt.sandboxes.get(found.id);
    const cfg = sandboxConfig(sb);
    const next: PodSandboxConfig = { ...cfg, linux: { ...(cfg.linux ?? LinuxPodSandboxConfig.fromPartial({})), overhead: req.overhead, resources: req.resources } };
    await rt.sandboxes.update(sb.id, () => ({ config: Buffer.from(PodSandboxConfig.encode(next).finish()).toString('base64') }));
  });
}
