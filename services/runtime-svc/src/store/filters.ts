// ListContainers / ListPodSandbox filters with CRI semantics: every set field
// must match; ids match by prefix (crictl passes short ids); labels are an
// AND of exact key=value pairs.
import type { ContainerFilter, PodSandboxFilter } from '@crius/common/cri';

export function labelsMatch(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export interface FilterableContainer {
  id: string;
  sandboxId: string;
  state: number;
  labels: Record<string, string>;
}

export function containerMatches(c: FilterableContainer, f: ContainerFilter | undefined): boolean {
  if (!f) return true;
  if (f.id && !c.id.startsWith(f.id)) return false;
  if (f.podSandboxId && !c.sandboxId.startsWith(f.podSandboxId)) return false;
  if (f.state && f.state.state !== c.state) return false;
  return labelsMatch(c.labels, f.labelSelector);
}

export interface FilterableSandbox {
  id: string;
  state: number;
  labels: Record<string, string>;
}

export function sandboxMatches(s: FilterableSandbox, f: PodSandboxFilter | undefined): boolean {
  if (!f) return true;
  if (f.id && !s.id.startsWith(f.id)) return false;
  if (f.state && f.state.state !== s.state) return false;
  return labelsMatch(s.labels, f.labelSelector);
}
