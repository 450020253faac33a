// monitor-svc stats: builds CRI ContainerStats and PodSandboxStats from raw samples.
// Owner: monitor-svc. The bus handlers (ContainerStats, ListContainerStats,
// PodSandboxStats, ListPodSandboxStats) select and filter refs, then call CriStats.
import type {
  ContainerStats,
  CpuUsage,
  FilesystemUsage,
  IoUsage,
  MemoryUsage,
  PodSandboxMetrics,
  PodSandboxStats,
  PsiData,
  PsiStats,
  SwapUsage,
  UInt64Value,
} from '@crius/common/cri';
import type { CgroupSample } from './cgroup-reader.js';
import type { Psi, PsiLine } from './cgroup-parse.js';
import { CpuRateTracker } from './cpu-rate.js';
import { toPodSandboxMetrics } from './metrics.js';
import { toNetworkUsage, type NetworkUsageOptions } from './net-stats.js';
import {
  StatsSampler,
  type ContainerRef,
  type ContainerSample,
  type PodRef,
  type PodSample,
  type SamplerDeps,
} from './sampler.js';

const u64 = (value: bigint): UInt64Value => ({ value });
const opt = (value: bigint | undefined): UInt64Value | undefined =>
  value === undefined ? undefined : { value };
const floor0 = (v: bigint) => (v < 0n ? 0n : v);

function psiData(line: PsiLine | undefined): PsiData | undefined {
  if (line === undefined) return undefined;
  // CRI's Total is in ns; the kernel counts µs.
  return { Total: line.totalUs * 1000n, Avg10: line.avg10, Avg60: line.avg60, Avg300: line.avg300 };
}

export function toPsiStats(psi: Psi | undefined): PsiStats | undefined {
  if (psi === undefined) return undefined;
  return { Full: psiData(psi.full), Some: psiData(psi.some) };
}

/** CPU usage, with usage_nano_cores from the tracker (absent on the first sample of `rateKey`). */
export function toCpuUsage(s: CgroupSample, rates: CpuRateTracker, rateKey: string): CpuUsage | undefined {
  if (s.cpu === undefined) return undefined;
  return {
    timestamp: s.timestampNs,
    usageCoreNanoSeconds: u64(s.cpu.usageNs),
    usageNanoCores: opt(rates.update(rateKey, s.timestampNs, s.cpu.usageNs)),
    psi: toPsiStats(s.psi?.cpu),
  };
}

export function toMemoryUsage(s: CgroupSample): MemoryUsage | undefined {
  const m = s.memory;
  if (m === undefined) return undefined;
  return {
    timestamp: s.timestampNs,
    workingSetBytes: u64(m.workingSetBytes),
    // Like cAdvisor: only meaningful under a limit, and measured against the working set.
    availableBytes: m.limitBytes === undefined ? undefined : u64(floor0(m.limitBytes - m.workingSetBytes)),
    usageBytes: u64(m.usageBytes),
    rssBytes: u64(m.rssBytes),
    pageFaults: u64(m.pageFaults),
    majorPageFaults: u64(m.majorPageFaults),
    psi: toPsiStats(s.psi?.memory),
  };
}

export function toSwapUsage(s: CgroupSample): SwapUsage | undefined {
  const w = s.swap;
  if (w === undefined) return undefined;
  return {
    timestamp: s.timestampNs,
    swapUsageBytes: u64(w.usageBytes),
    swapAvailableBytes: w.limitBytes === undefined ? undefined : u64(floor0(w.limitBytes - w.usageBytes)),
  };
}

export function toIoUsage(s: CgroupSample): IoUsage | undefined {
  if (s.psi?.io === undefined) return undefined;
  return { timestamp: s.timestampNs, psi: toPsiStats(s.psi.io) };
}

function toFilesystemUsage(sample: ContainerSample): FilesystemUsage | undefined {
  const l = sample.layer;
  if (l === undefined) return undefined;
  return {
    timestamp: sample.timestampNs,
    fsId: { mountpoint: l.mountpoint },
    usedBytes: u64(l.usedBytes),
    inodesUsed: u64(l.inodesUsed),
  };
}

/** Rate-tracker key of a container; pods use podRateKey so the two never collide. */
export const containerRateKey = (id: string) => `ctr:${id}`;
export const podRateKey = (id: string) => `pod:${id}`;

export function toContainerStats(sample: ContainerSample, rates: CpuRateTracker): ContainerStats {
  const { ref, cgroup } = sample;
  return {
    attributes: {
      id: ref.id,
      metadata: ref.metadata,
      labels: ref.labels ?? {},
      annotations: ref.annotations ?? {},
    },
    cpu: cgroup === undefined ? undefined : toCpuUsage(cgroup, rates, containerRateKey(ref.id)),
    memory: cgroup === undefined ? undefined : toMemoryUsage(cgroup),
    swap: cgroup === undefined ? undefined : toSwapUsage(cgroup),
    io: cgroup === undefined ? undefined : toIoUsage(cgroup),
    writableLayer: toFilesystemUsage(sample),
  };
}

export function toPodSandboxStats(
  sample: PodSample,
  rates: CpuRateTracker,
  netOpts: NetworkUsageOptions = {},
): PodSandboxStats {
  const { ref, cgroup } = sample;
  return {
    attributes: {
      id: ref.id,
      metadata: ref.metadata,
      labels: ref.labels ?? {},
      annotations: ref.annotations ?? {},
    },
    linux: {
      cpu: cgroup === undefined ? undefined : toCpuUsage(cgroup, rates, podRateKey(ref.id)),
      memory: cgroup === undefined ? undefined : toMemoryUsage(cgroup),
      network: sample.network === undefined ? undefined : toNetworkUsage(sample.network, sample.timestampNs, netOpts),
      process:
        cgroup?.pids === undefined
          ? undefined
          : { timestamp: cgroup.timestampNs, processCount: u64(cgroup.pids.current) },
      containers: sample.containers.map((c) => toContainerStats(c, rates)),
      io: cgroup === undefined ? undefined : toIoUsage(cgroup),
    },
    windows: undefined,
  };
}

export interface CriStatsDeps extends SamplerDeps {
  /** Shared tracker; one is made if absent. Keep one per process so rates span calls. */
  rates?: CpuRateTracker;
  network?: NetworkUsageOptions;
}

/** Samples and converts in one step; what the stats bus handlers call. */
export class CriStats {
  readonly sampler: StatsSampler;
  readonly rates: CpuRateTracker;

  constructor(private readonly deps: CriStatsDeps) {
    this.sampler = new StatsSampler(deps);
    this.rates = deps.rates ?? new CpuRateTracker();
  }

  async containerStats(ref: ContainerRef): Promise<ContainerStats> {
    return toContainerStats(await this.sampler.sampleContainer(ref), this.rates);
  }

  async listContainerStats(refs: ContainerRef[]): Promise<ContainerStats[]> {
    return Promise.all(refs.map((r) => this.containerStats(r)));
  }

  async podSandboxStats(ref: PodRef): Promise<PodSandboxStats> {
    return toPodSandboxStats(await this.sampler.samplePod(ref), this.rates, this.deps.network);
  }

  async listPodSandboxStats(refs: PodRef[]): Promise<PodSandboxStats[]> {
    return Promise.all(refs.map((r) => this.podSandboxStats(r)));
  }

  /** CRI ListPodSandboxMetrics for the given pods (descriptors: metrics.ts listMetricDescriptors). */
  async listPodSandboxMetrics(refs: PodRef[]): Promise<PodSandboxMetrics[]> {
    return Promise.all(refs.map(async (r) => toPodSandboxMetrics(await this.sampler.samplePod(r))));
  }

  /** Drops rate state of containers and pods that no longer exist. */
  retain(liveContainerIds: Iterable<string>, livePodIds: Iterable<string>): void {
    this.rates.retainOnly([
      ...[...liveContainerIds].map(containerRateKey),
      ...[...livePodIds].map(podRateKey),
    ]);
  }
}
