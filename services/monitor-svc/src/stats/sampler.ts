// monitor-svc stats: takes one raw sample of a container or a pod (cgroup counters, network
// counters, writable-layer usage). Owner: monitor-svc. CRI stats (stats.ts) and CRI metrics
// (metrics.ts) are both built from these samples, so the two never disagree.
import { NotFoundError } from '@crius/common';
import type { ContainerMetadata, PodSandboxMetadata } from '@crius/common/cri';
import { nowNs, type CgroupReader, type CgroupSample } from './cgroup-reader.js';
import { readPodNetDev, type NetDevEntry, type PodNetworkSource } from './net-stats.js';

/** Disk use of a container's writable layer, as storage-svc reports it. */
export interface WritableLayerUsage {
  usedBytes: bigint;
  inodesUsed: bigint;
  mountpoint: string;
}

/** Looks up a container's writable-layer usage; undefined (or NotFoundError) when unknown. */
export type WritableLayerFn = (containerId: string) => Promise<WritableLayerUsage | undefined>;

/** What the caller (runtime-svc's records) knows about a container. */
export interface ContainerRef {
  id: string;
  metadata?: ContainerMetadata;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The container's cgroup, e.g. `<cgroupParent>/<containerId>` (the OCI linux.cgroupsPath). */
  cgroupPath: string;
  /** Image reference, only used as a metrics label. */
  image?: string;
  /** When the container started, ns since the epoch; for container_start_time_seconds. */
  startedAtNs?: bigint;
  /** False for created/exited containers: their cgroup is not read. Default true. */
  running?: boolean;
}

/** What the caller knows about a pod sandbox. */
export interface PodRef {
  id: string;
  metadata?: PodSandboxMetadata;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The pod cgroup (the sandbox's cgroup parent). */
  cgroupPath: string;
  /** Where its network namespace is; undefined for host-network pods (no network stats). */
  network?: PodNetworkSource;
  /** The containers whose stats go into the pod's stats (filtering is the caller's). */
  containers: ContainerRef[];
}

export interface ContainerSample {
  ref: ContainerRef;
  timestampNs: bigint;
  /** Undefined when the container is not running or its cgroup is gone. */
  cgroup?: CgroupSample;
  layer?: WritableLayerUsage;
}

export interface PodSample {
  ref: PodRef;
  timestampNs: bigint;
  cgroup?: CgroupSample;
  network?: NetDevEntry[];
  containers: ContainerSample[];
}

export interface SamplerDeps {
  cgroups: CgroupReader;
  writableLayer: WritableLayerFn;
  /** Default: readPodNetDev (/proc/<pid>/net/dev, else nsenter). */
  readNetwork?: (src: PodNetworkSource) => Promise<NetDevEntry[] | undefined>;
  clock?: () => bigint;
}

/** Runs `fn`, mapping NotFoundError (the thing went away meanwhile) to undefined. */
async function unlessGone<T>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export class StatsSampler {
  private readonly readNetwork: (src: PodNetworkSource) => Promise<NetDevEntry[] | undefined>;
  private readonly clock: () => bigint;

  constructor(private readonly deps: SamplerDeps) {
    this.readNetwork = deps.readNetwork ?? readPodNetDev;
    this.clock = deps.clock ?? nowNs;
  }

  async sampleContainer(ref: ContainerRef): Promise<ContainerSample> {
    const [cgroup, layer] = await Promise.all([
      ref.running === false ? undefined : unlessGone(() => this.deps.cgroups.read(ref.cgroupPath)),
      unlessGone(() => this.deps.writableLayer(ref.id)),
    ]);
    return { ref, timestampNs: cgroup?.timestampNs ?? this.clock(), cgroup, layer };
  }

  async samplePod(ref: PodRef): Promise<PodSample> {
    const [cgroup, network, containers] = await Promise.all([
      unlessGone(() => this.deps.cgroups.read(ref.cgroupPath)),
      ref.network === undefined ? undefined : unlessGone(() => this.readNetwork(ref.network!)),
      Promise.all(ref.containers.map((c) => this.sampleContainer(c))),
    ]);
    return { ref, timestampNs: cgroup?.timestampNs ?? this.clock(), cgroup, network, containers };
  }
}
