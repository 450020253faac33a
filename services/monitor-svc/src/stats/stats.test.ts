// stats: CRI ContainerStats/PodSandboxStats from a fake v2 cgroup tree, a fake writable
// layer and fixture network counters (the readers themselves are tested for real elsewhere).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCgroupReader } from './cgroup-reader.js';
import { parseNetDev } from './net-stats.js';
import type { ContainerRef, PodRef, WritableLayerUsage } from './sampler.js';
import { CriStats } from './stats.js';

const NET = `Inter-| x
 face | x
    lo:  100 1 0 0 0 0 0 0  100 1 0 0 0 0 0 0
  eth0:  5000 50 2 0 0 0 0 0  7000 70 3 0 0 0 0 0
`;
const PSI = 'some avg10=0.50 avg60=0.00 avg300=0.00 total=20\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=10\n';

let root: string;
let now: bigint;
let layers: Map<string, WritableLayerUsage>;
let stats: CriStats;

async function cgroup(path: string, usageUsec: number, memCurrent: number, extra: Record<string, string> = {}) {
  const dir = join(root, path);
  await mkdir(dir, { recursive: true });
  const f: Record<string, string> = {
    'cpu.stat': `usage_usec ${usageUsec}\nuser_usec 1\nsystem_usec 1\n`,
    'memory.current': `${memCurrent}\n`,
    'memory.max': '268435456\n',
    'memory.stat': 'anon 4096\nfile 8192\ninactive_file 1024\npgfault 10\npgmajfault 1\n',
    'memory.events': 'oom_kill 0\n',
    'memory.swap.current': '0\n',
    'memory.swap.max': 'max\n',
    'pids.current': '2\n',
    ...extra,
  };
  for (const [n, t] of Object.entries(f)) await writeFile(join(dir, n), t);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'crius-stats-'));
  await writeFile(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
  now = 1_000_000_000_000n;
  layers = new Map([['c1', { usedBytes: 12345n, inodesUsed: 67n, mountpoint: '/var/lib/crius/storage' }]]);
  stats = new CriStats({
    cgroups: createCgroupReader({ root, clock: () => now }),
    writableLayer: async (id) => layers.get(id),
    readNetwork: async () => parseNetDev(NET),
    clock: () => now,
  });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const c1: ContainerRef = {
  id: 'c1',
  metadata: { name: 'web', attempt: 2 },
  labels: { app: 'web' },
  annotations: { note: 'x' },
  cgroupPath: '/crius/pod-a/c1',
};

describe('CriStats.containerStats', () => {
  it('fills attributes, cpu, memory, swap, io psi and writable layer; rate from the 2nd sample', async () => {
    await cgroup('crius/pod-a/c1', 1_000_000, 1048576, { 'cpu.pressure': PSI, 'io.pressure': PSI });
    const first = await stats.containerStats(c1);
    expect(first.attributes).toEqual({
      id: 'c1',
      metadata: { name: 'web', attempt: 2 },
      labels: { app: 'web' },
      annotations: { note: 'x' },
    });
    expect(first.cpu?.timestamp).toBe(now);
    expect(first.cpu?.usageCoreNanoSeconds?.value).toBe(1_000_000_000n);
    expect(first.cpu?.usageNanoCores).toBeUndefined();
    expect(first.cpu?.psi?.Some).toEqual({ Total: 20_000n, Avg10: 0.5, Avg60: 0, Avg300: 0 });
    expect(first.memory).toEqual({
      timestamp: now,
      workingSetBytes: { value: 1048576n - 1024n },
      availableBytes: { value: 268435456n - (1048576n - 1024n) },
      usageBytes: { value: 1048576n },
      rssBytes: { value: 4096n },
      pageFaults: { value: 10n },
      majorPageFaults: { value: 1n },
      psi: undefined,
    });
    expect(first.swap).toEqual({ timestamp: now, swapUsageBytes: { value: 0n }, swapAvailableBytes: undefined });
    expect(first.io?.psi?.Full?.Total).toBe(10_000n);
    expect(first.writableLayer).toEqual({
      timestamp: now,
      fsId: { mountpoint: '/var/lib/crius/storage' },
      usedBytes: { value: 12345n },
      inodesUsed: { value: 67n },
    });

    // +0.5 s CPU over 2 s → 250 millicores.
    now += 2_000_000_000n;
    await cgroup('crius/pod-a/c1', 1_500_000, 1048576);
    const second = await stats.containerStats(c1);
    expect(second.cpu?.usageNanoCores?.value).toBe(250_000_000n);
  });

  it('gives only attributes and layer for a container whose cgroup is gone or not running', async () => {
    const gone = await stats.containerStats(c1);
    expect(gone.attributes?.id).toBe('c1');
    expect(gone.cpu).toBeUndefined();
    expect(gone.memory).toBeUndefined();
    expect(gone.writableLayer?.usedBytes?.value).toBe(12345n);
    await cgroup('crius/pod-a/c1', 1, 1);
    const stopped = await stats.containerStats({ ...c1, running: false });
    expect(stopped.cpu).toBeUndefined();
    const noLayer = await stats.containerStats({ ...c1, id: 'c9' });
    expect(noLayer.writableLayer).toBeUndefined();
    expect(noLayer.attributes?.labels).toEqual({ app: 'web' });
  });
});

describe('CriStats.podSandboxStats', () => {
  const pod: PodRef = {
    id: 'pod-a',
    metadata: { name: 'p', uid: 'u1', namespace: 'ns', attempt: 0 },
    labels: { tier: 'x' },
    cgroupPath: '/crius/pod-a',
    network: { pid: 1234 },
    containers: [c1],
  };

  it('combines pod cgroup, network (eth0 default, no lo), process count and containers', async () => {
    await cgroup('crius/pod-a', 3_000_000, 4194304, { 'pids.current': '5\n' });
    await cgroup('crius/pod-a/c1', 1_000_000, 1048576);
    const s = await stats.podSandboxStats(pod);
    expect(s.attributes).toEqual({ id: 'pod-a', metadata: pod.metadata, labels: { tier: 'x' }, annotations: {} });
    expect(s.windows).toBeUndefined();
    const l = s.linux!;
    expect(l.cpu?.usageCoreNanoSeconds?.value).toBe(3_000_000_000n);
    expect(l.memory?.usageBytes?.value).toBe(4194304n);
    expect(l.process).toEqual({ timestamp: now, processCount: { value: 5n } });
    expect(l.network?.defaultInterface).toEqual({
      name: 'eth0',
      rxBytes: { value: 5000n },
      rxErrors: { value: 2n },
      txBytes: { value: 7000n },
      txErrors: { value: 3n },
    });
    expect(l.network?.interfaces.map((i) => i.name)).toEqual(['eth0']);
    expect(l.containers.map((c) => c.attributes?.id)).toEqual(['c1']);
    expect(l.containers[0]?.cpu?.usageCoreNanoSeconds?.value).toBe(1_000_000_000n);

    // Pod and container rates are tracked apart even though both were sampled.
    now += 1_000_000_000n;
    await cgroup('crius/pod-a', 4_000_000, 4194304);
    await cgroup('crius/pod-a/c1', 1_100_000, 1048576);
    const again = await stats.listPodSandboxStats([pod]);
    expect(again[0]?.linux?.cpu?.usageNanoCores?.value).toBe(1_000_000_000n);
    expect(again[0]?.linux?.containers[0]?.cpu?.usageNanoCores?.value).toBe(100_000_000n);
    stats.retain([], ['pod-a']);
    expect(stats.rates.size).toBe(1);
  });

  it('lists pod sandbox metrics from the same readers', async () => {
    await cgroup('crius/pod-a', 3_000_000, 4194304);
    await cgroup('crius/pod-a/c1', 1_000_000, 1048576);
    const [pm] = await stats.listPodSandboxMetrics([pod]);
    const podWs = pm?.metrics.find((m) => m.name === 'container_memory_working_set_bytes');
    expect(podWs?.value?.value).toBe(4194304n - 1024n);
    const rx = pm?.metrics.find((m) => m.name === 'container_network_receive_bytes_total');
    expect(rx?.labelValues.at(-1)).toBe('eth0');
    expect(rx?.value?.value).toBe(5000n);
    const c1cpu = pm?.containerMetrics[0]?.metrics.find((m) => m.name === 'container_cpu_usage_seconds_total');
    expect(c1cpu?.value?.value).toBe(1n);
  });

  it('has no network for a host-network pod', async () => {
    await cgroup('crius/pod-a', 1, 1);
    const s = await stats.podSandboxStats({ ...pod, network: undefined, containers: [] });
    expect(s.linux?.network).toBeUndefined();
    expect(s.linux?.containers).toEqual([]);
  });
});
