// Unique names of sandboxes and containers, as kubelet-facing runtimes build
// them from CRI metadata (so a name is reserved per pod attempt).
import type { ContainerMetadata, PodSandboxMetadata } from '@crius/common/cri';

export function sandboxName(md: PodSandboxMetadata): string {
  return ['k8s', md.name, md.namespace, md.uid, String(md.attempt)].join('_');
}

export function containerName(md: ContainerMetadata, pod: PodSandboxMetadata): string {
  return ['k8s', md.name, pod.name, pod.namespace, pod.uid, String(md.attempt)].join('_');
}
