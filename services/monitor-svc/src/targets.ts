// What to read stats from, as runtime-svc reports it (ListStatsTargets), in
// the shapes the stats sampler takes, with the CRI filters applied.
import type { BusClient, CallOptions } from '@crius/common';
import type { ContainerStatsFilter, PodSandboxStatsFilter } from '@crius/common/cri';
import { ListStatsTargetsRequest, ListStatsTargetsResponse, type StatsContainer } from '@crius/common/proto/runtime';
import type { ContainerRef, PodRef } from './stats/index.js';

export interface Targets {
  pods: PodRef[];
  containers: (ContainerRef & { sandboxId: string; bundle: string })[];
}

function containerRef(c: StatsContainer): Targets['containers'][number] {
  return {
    id: c.id,
    sandboxId: c.sandboxId,
    bundle: c.bundle,
    metadata: c.metadata,
    labels: c.labels,
    annotations: c.annotations,
    cgroupPath: c.cgroupPath,
    image: c.image,
    startedAtNs: c.startedAt,
    running: c.running,
  };
}

export async function fetchTargets(bus: BusClient, opts: CallOptions = {}): Promise<Targets> {
  const r = await bus.call('runtime', 'ListStatsTargets', ListStatsTargetsRequest, ListStatsTargetsResponse, {}, opts);
  const containers = r.containers.map(containerRef);
  const pods = r.pods.map((p) => ({
    id: p.id,
    metadata: p.metadata,
    labels: p.labels,
    annotations: p.annotations,
    cgroupPath: p.cgroupPath,
    network: p.netnsPath ? { netnsPath: p.netnsPath } : undefined,
    containers: containers.filter((c) => c.sandboxId === p.id),
  }));
  return { pods, containers };
}

const labelsMatch = (labels: Record<string, string> | undefined, sel: Record<string, string> | undefined) =>
  !sel || Object.entries(sel).every(([k, v]) => labels?.[k] === v);

export function filterContainers(t: Targets, f: ContainerStatsFilter | undefined): Targets['containers'] {
  return t.containers.filter(
    (c) =>
      (!f?.id || c.id.startsWith(f.id)) && (!f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId)) && labelsMatch(c.labels, f?.labelSelector),
  );
}

export function filterPods(t: Targets, f: PodSandboxStatsFilter | undefined): PodRef[] {
  return t.pods.filter((p) => (!f?.id || p.id.startsWith(f.id)) && labelsMatch(p.labels, f?.labelSelector));
}
