// monitor-svc stats: CRI ListMetricDescriptors / ListPodSandboxMetrics, the cAdvisor-style
// container_* metrics kubelet re-exports on /metrics/cadvisor when it takes stats from the
// runtime. Owner: monitor-svc. Built from the same samples as stats.ts.
//
// CRI metric values are uint64, so "_seconds" counters are whole seconds (truncated).
// Every metric carries BASE_LABEL_KEYS (values below), then its own extra keys:
//   container = container name ("" for the pod's own cgroup), id = cgroup path,
//   image = image ref, name = container id (pod id for pod rows),
//   namespace / pod = the pod's namespace and name.
import { MetricType } from '@crius/common/cri';
import type { ContainerMetrics, Metric, MetricDescriptor, PodSandboxMetrics } from '@crius/common/cri';
import type { CgroupSample } from './cgroup-reader.js';
import type { Psi } from './cgroup-parse.js';
import type { NetDevEntry } from './net-stats.js';
import type { ContainerSample, PodRef, PodSample } from './sampler.js';

export const BASE_LABEL_KEYS = ['container', 'id', 'image', 'name', 'namespace', 'pod'] as const;

/** One row to emit: values of the descriptor's extra label keys, and the value. */
interface Row {
  extra: string[];
  value: bigint;
}
type Rows = Row[];

interface Def {
  name: string;
  help: string;
  type: MetricType;
  extraLabels?: string[];
  /** From a cgroup sample (containers and the pod cgroup). */
  cgroup?: (s: CgroupSample, isPod: boolean) => Rows;
  /** From one interface of the pod's network namespace (pod rows only). */
  net?: (e: NetDevEntry) => bigint;
  /** From the container sample as a whole (writable layer, start time). */
  container?: (c: ContainerSample) => Rows;
  /** From any sample's timestamp. */
  seen?: (timestampNs: bigint) => bigint;
}

const NS_PER_S = 1_000_000_000n;
const one = (v: bigint | undefined): Rows => (v === undefined ? [] : [{ extra: [], value: v }]);
const secs = (ns: bigint | undefined) => (ns === undefined ? undefined : ns / NS_PER_S);
const { COUNTER, GAUGE } = MetricType;

function pressure(kind: 'cpu' | 'memory' | 'io', line: keyof Psi): (s: CgroupSample) => Rows {
  return (s) => {
    const us = s.psi?.[kind]?.[line]?.totalUs;
    return one(us === undefined ? undefined : us / 1_000_000n);
  };
}

const DEFS: Def[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', type: COUNTER,
    cgroup: (s) => one(secs(s.cpu?.usageNs)) },
  { name: 'container_cpu_user_seconds_total', help: 'Cumulative user cpu time consumed in seconds.', type: COUNTER,
    cgroup: (s) => one(secs(s.cpu?.userNs)) },
  { name: 'container_cpu_system_seconds_total', help: 'Cumulative system cpu time consumed in seconds.', type: COUNTER,
    cgroup: (s) => one(secs(s.cpu?.systemNs)) },
  { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', type: COUNTER,
    cgroup: (s) => one(s.cpu?.periods) },
  { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', type: COUNTER,
    cgroup: (s) => one(s.cpu?.throttledPeriods) },
  { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.',
    type: COUNTER, cgroup: (s) => one(secs(s.cpu?.throttledNs)) },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed',
    type: GAUGE, cgroup: (s) => one(s.memory?.usageBytes) },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', type: GAUGE,
    cgroup: (s) => one(s.memory?.workingSetBytes) },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', type: GAUGE, cgroup: (s) => one(s.memory?.rssBytes) },
  { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', type: GAUGE,
    cgroup: (s) => one(s.memory?.cacheBytes) },
  { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', type: GAUGE,
    cgroup: (s) => one(s.memory?.mappedFileBytes) },
  { name: 'container_memory_swap', help: 'Container swap usage in bytes.', type: GAUGE,
    cgroup: (s) => one(s.swap?.usageBytes) },
  { name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', type: COUNTER,
    extraLabels: ['failure_type', 'scope'],
    cgroup: (s, isPod) => {
      if (s.memory === undefined) return [];
      // Counters are hierarchical; a container's cgroup is a leaf, so both scopes agree there.
      const scopes = isPod ? ['hierarchy'] : ['container', 'hierarchy'];
      return scopes.flatMap((scope) => [
        { extra: ['pgfault', scope], value: s.memory!.pageFaults },
        { extra: ['pgmajfault', scope], value: s.memory!.majorPageFaults },
      ]);
    } },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', type: GAUGE,
    // 0 means no limit, as cAdvisor reports it.
    cgroup: (s) => one(s.memory === undefined ? undefined : (s.memory.limitBytes ?? 0n)) },
  { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container', type: COUNTER,
    cgroup: (s) => one(s.memory?.oomKills) },
  { name: 'container_processes', help: 'Number of processes running inside the container.', type: GAUGE,
    cgroup: (s) => one(s.pids?.current) },
  { name: 'container_pressure_cpu_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to CPU pressure stall.',
    type: COUNTER, cgroup: pressure('cpu', 'some') },
  { name: 'container_pressure_cpu_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to CPU congestion.',
    type: COUNTER, cgroup: pressure('cpu', 'full') },
  { name: 'container_pressure_memory_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to memory pressure stall.',
    type: COUNTER, cgroup: pressure('memory', 'some') },
  { name: 'container_pressure_memory_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to memory congestion.',
    type: COUNTER, cgroup: pressure('memory', 'full') },
  { name: 'container_pressure_io_waiting_seconds_total', help: 'Total time duration tasks in the container have waited due to IO pressure stall.',
    type: COUNTER, cgroup: pressure('io', 'some') },
  { name: 'container_pressure_io_stalled_seconds_total', help: 'Total time duration no tasks in the container could make progress due to IO congestion.',
    type: COUNTER, cgroup: pressure('io', 'full') },
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received', type: COUNTER,
    extraLabels: ['interface'], net: (e) => e.rxBytes },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted', type: COUNTER,
    extraLabels: ['interface'], net: (e) => e.txBytes },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving',
    type: COUNTER, extraLabels: ['interface'], net: (e) => e.rxErrors },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting',
    type: COUNTER, extraLabels: ['interface'], net: (e) => e.txErrors },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received', type: COUNTER,
    extraLabels: ['interface'], net: (e) => e.rxPackets },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted', type: COUNTER,
    extraLabels: ['interface'], net: (e) => e.txPackets },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving',
    type: COUNTER, extraLabels: ['interface'], net: (e) => e.rxDropped },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting',
    type: COUNTER, extraLabels: ['interface'], net: (e) => e.txDropped },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.',
    type: GAUGE, extraLabels: ['device'],
    container: (c) => (c.layer === undefined ? [] : [{ extra: [c.layer.mountpoint], value: c.layer.usedBytes }]) },
  { name: 'container_fs_inodes_used', help: 'Number of inodes used by the container on this filesystem.',
    type: GAUGE, extraLabels: ['device'],
    container: (c) => (c.layer === undefined ? [] : [{ extra: [c.layer.mountpoint], value: c.layer.inodesUsed }]) },
  { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', type: GAUGE,
    container: (c) => one(secs(c.ref.startedAtNs)) },
  { name: 'container_last_seen', help: 'Last time a container was seen by the exporter', type: GAUGE,
    seen: (ts) => ts / NS_PER_S },
];

export function listMetricDescriptors(): MetricDescriptor[] {
  return DEFS.map((d) => ({ name: d.name, help: d.help, labelKeys: [...BASE_LABEL_KEYS, ...(d.extraLabels ?? [])] }));
}

/** A cgroup path as cAdvisor names it in the id label: always rooted. */
const cgroupId = (path: string) => `/${path.replace(/^\/+/, '')}`;

function podBase(pod: PodRef): { namespace: string; pod: string } {
  return { namespace: pod.metadata?.namespace ?? '', pod: pod.metadata?.name ?? '' };
}

function metric(d: Def, base: string[], row: Row, timestampNs: bigint): Metric {
  return { name: d.name, timestamp: timestampNs, metricType: d.type, labelValues: [...base, ...row.extra], value: { value: row.value } };
}

export function toContainerMetrics(c: ContainerSample, pod: PodRef): ContainerMetrics {
  const p = podBase(pod);
  const base = [c.ref.metadata?.name ?? '', cgroupId(c.ref.cgroupPath), c.ref.image ?? '', c.ref.id, p.namespace, p.pod];
  const metrics: Metric[] = [];
  for (const d of DEFS) {
    let rows: Rows = [];
    if (d.cgroup && c.cgroup) rows = d.cgroup(c.cgroup, false);
    else if (d.container) rows = d.container(c);
    else if (d.seen) rows = one(d.seen(c.timestampNs));
    for (const row of rows) metrics.push(metric(d, base, row, c.timestampNs));
  }
  return { containerId: c.ref.id, metrics };
}

/** Pod rows (pod cgroup + network, container label "") and one ContainerMetrics per container. */
export function toPodSandboxMetrics(sample: PodSample): PodSandboxMetrics {
  const { ref, timestampNs } = sample;
  const p = podBase(ref);
  const base = ['', cgroupId(ref.cgroupPath), '', ref.id, p.namespace, p.pod];
  const metrics: Metric[] = [];
  for (const d of DEFS) {
    let rows: Rows = [];
    if (d.cgroup && sample.cgroup) rows = d.cgroup(sample.cgroup, true);
    else if (d.net && sample.network) {
      rows = sample.network.filter((e) => e.name !== 'lo').map((e) => ({ extra: [e.name], value: d.net!(e) }));
    } else if (d.seen) rows = one(d.seen(timestampNs));
    for (const row of rows) metrics.push(metric(d, base, row, timestampNs));
  }
  return {
    podSandboxId: ref.id,
    metrics,
    containerMetrics: sample.containers.map((c) => toContainerMetrics(c, ref)),
  };
}
