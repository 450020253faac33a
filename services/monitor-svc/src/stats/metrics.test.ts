// metrics: descriptors and PodSandboxMetrics built from fixed samples.
import { describe, expect, it } from 'vitest';
import { MetricType, type Metric } from '@crius/common/cri';
import type { CgroupSample } from './cgroup-reader.js';
import { BASE_LABEL_KEYS, listMetricDescriptors, toPodSandboxMetrics } from './metrics.js';
import type { PodSample } from './sampler.js';

const TS = 1_700_000_123_456_789_000n;
const ctrCgroup: CgroupSample = {
  path: '/crius/pod-a/c1',
  version: 1,
  timestampNs: TS,
  cpu: { usageNs: 12_900_000_000n, userNs: 10_000_000_000n, systemNs: 2_900_000_000n, periods: 5n, throttledPeriods: 2n, throttledNs: 3_000_000_000n },
  memory: {
    usageBytes: 1000n, workingSetBytes: 900n, rssBytes: 600n, cacheBytes: 300n, mappedFileBytes: 50n,
    pageFaults: 77n, majorPageFaults: 7n, limitBytes: 4096n, oomKills: 2n,
  },
  swap: { usageBytes: 0n },
  pids: { current: 3n },
};
const podCgroup: CgroupSample = {
  ...ctrCgroup,
  path: 'crius/pod-a',
  memory: { ...ctrCgroup.memory!, limitBytes: undefined },
  psi: { cpu: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 2_500_000n } } },
};
const net = (name: string, rx: bigint) => ({
  name, rxBytes: rx, rxPackets: 1n, rxErrors: 4n, rxDropped: 0n, txBytes: 2n * rx, txPackets: 1n, txErrors: 5n, txDropped: 0n,
});

const sample: PodSample = {
  ref: {
    id: 'pod-a',
    metadata: { name: 'web-0', uid: 'u', namespace: 'prod', attempt: 0 },
    cgroupPath: 'crius/pod-a',
    containers: [],
  },
  timestampNs: TS,
  cgroup: podCgroup,
  network: [net('lo', 1n), net('eth0', 1000n)],
  containers: [
    {
      ref: { id: 'c1', metadata: { name: 'app', attempt: 0 }, cgroupPath: '/crius/pod-a/c1', image: 'busybox:1.36', startedAtNs: 1_600_000_000_500_000_000n },
      timestampNs: TS,
      cgroup: ctrCgroup,
      layer: { usedBytes: 8192n, inodesUsed: 10n, mountpoint: '/var/lib/crius' },
    },
    { ref: { id: 'c2', cgroupPath: '/crius/pod-a/c2', running: false }, timestampNs: TS },
  ],
};

const find = (ms: Metric[], name: string, extra: string[] = []) =>
  ms.filter((m) => m.name === name && extra.every((v, i) => m.labelValues[BASE_LABEL_KEYS.length + i] === v));

describe('listMetricDescriptors', () => {
  const ds = listMetricDescriptors();
  it('lists the cAdvisor metric names kubelet expects, each once, with help and label keys', () => {
    const names = ds.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of [
      'container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_rss',
      'container_memory_usage_bytes', 'container_memory_cache', 'container_spec_memory_limit_bytes',
      'container_oom_events_total', 'container_processes', 'container_network_receive_bytes_total',
      'container_network_transmit_bytes_total', 'container_network_receive_errors_total',
      'container_network_transmit_errors_total', 'container_fs_usage_bytes', 'container_start_time_seconds',
      'container_last_seen',
    ]) expect(names).toContain(n);
    for (const d of ds) {
      expect(d.help.length).toBeGreaterThan(10);
      expect(d.labelKeys.slice(0, 6)).toEqual(['container', 'id', 'image', 'name', 'namespace', 'pod']);
    }
    expect(ds.find((d) => d.name === 'container_network_receive_bytes_total')?.labelKeys.at(-1)).toBe('interface');
    expect(ds.find((d) => d.name === 'container_fs_usage_bytes')?.labelKeys.at(-1)).toBe('device');
  });
});

describe('toPodSandboxMetrics', () => {
  const pm = toPodSandboxMetrics(sample);
  const keysOf = new Map(listMetricDescriptors().map((d) => [d.name, d.labelKeys.length]));
  const all = [...pm.metrics, ...pm.containerMetrics.flatMap((c) => c.metrics)];

  it('gives every metric as many label values as its descriptor has keys, and a known type', () => {
    expect(all.length).toBeGreaterThan(20);
    for (const m of all) {
      expect(m.labelValues).toHaveLength(keysOf.get(m.name)!);
      expect([MetricType.COUNTER, MetricType.GAUGE]).toContain(m.metricType);
      expect(m.timestamp).toBe(TS);
    }
  });

  it('emits container rows with cAdvisor-like labels and values', () => {
    expect(pm.podSandboxId).toBe('pod-a');
    const c1 = pm.containerMetrics.find((c) => c.containerId === 'c1')!.metrics;
    const cpu = find(c1, 'container_cpu_usage_seconds_total')[0]!;
    expect(cpu.labelValues).toEqual(['app', '/crius/pod-a/c1', 'busybox:1.36', 'c1', 'prod', 'web-0']);
    expect(cpu.metricType).toBe(MetricType.COUNTER);
    expect(cpu.value?.value).toBe(12n);
    expect(find(c1, 'container_cpu_cfs_throttled_seconds_total')[0]?.value?.value).toBe(3n);
    const ws = find(c1, 'container_memory_working_set_bytes')[0]!;
    expect([ws.metricType, ws.value?.value]).toEqual([MetricType.GAUGE, 900n]);
    expect(find(c1, 'container_memory_rss')[0]?.value?.value).toBe(600n);
    expect(find(c1, 'container_memory_cache')[0]?.value?.value).toBe(300n);
    expect(find(c1, 'container_spec_memory_limit_bytes')[0]?.value?.value).toBe(4096n);
    expect(find(c1, 'container_oom_events_total')[0]?.value?.value).toBe(2n);
    expect(find(c1, 'container_processes')[0]?.value?.value).toBe(3n);
    expect(find(c1, 'container_memory_failures_total', ['pgmajfault', 'container'])[0]?.value?.value).toBe(7n);
    expect(find(c1, 'container_fs_usage_bytes', ['/var/lib/crius'])[0]?.value?.value).toBe(8192n);
    expect(find(c1, 'container_start_time_seconds')[0]?.value?.value).toBe(1_600_000_000n);
    expect(find(c1, 'container_last_seen')[0]?.value?.value).toBe(1_700_000_123n);
    // Network belongs to the pod, not to each container.
    expect(find(c1, 'container_network_receive_bytes_total')).toEqual([]);
  });

  it('emits only last_seen for a container that is not running', () => {
    const c2 = pm.containerMetrics.find((c) => c.containerId === 'c2')!.metrics;
    expect(c2.map((m) => m.name)).toEqual(['container_last_seen']);
    expect(c2[0]!.labelValues).toEqual(['', '/crius/pod-a/c2', '', 'c2', 'prod', 'web-0']);
  });

  it('emits pod rows: pod cgroup, network per interface without lo, 0 for no limit, psi', () => {
    const rx = find(pm.metrics, 'container_network_receive_bytes_total');
    expect(rx.map((m) => [m.labelValues, m.value?.value])).toEqual([
      [['', '/crius/pod-a', '', 'pod-a', 'prod', 'web-0', 'eth0'], 1000n],
    ]);
    expect(find(pm.metrics, 'container_network_transmit_bytes_total', ['eth0'])[0]?.value?.value).toBe(2000n);
    expect(find(pm.metrics, 'container_network_receive_errors_total', ['eth0'])[0]?.value?.value).toBe(4n);
    expect(find(pm.metrics, 'container_network_transmit_errors_total', ['eth0'])[0]?.value?.value).toBe(5n);
    expect(find(pm.metrics, 'container_spec_memory_limit_bytes')[0]?.value?.value).toBe(0n);
    expect(find(pm.metrics, 'container_pressure_cpu_waiting_seconds_total')[0]?.value?.value).toBe(2n);
    expect(find(pm.metrics, 'container_pressure_cpu_stalled_seconds_total')).toEqual([]);
    expect(find(pm.metrics, 'container_memory_failures_total').map((m) => m.labelValues.at(-1))).toEqual([
      'hierarchy',
      'hierarchy',
    ]);
    expect(find(pm.metrics, 'container_fs_usage_bytes')).toEqual([]);
  });
});
