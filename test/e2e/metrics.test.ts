// Metrics with real figures: the Prometheus endpoint's per-RPC counts, service
// up/down, containers by state, exits and pulls as they happen; and the CRI
// metrics (ListPodSandboxMetrics, ContainerStats) of a container burning CPU
// and one holding a known amount of memory, checked against the cgroup files
// and against the descriptors' names and label keys.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, testCgroupParent, usePodStack, waitFor } from '../harness/pod.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => ({ s, client, image } = p));

const scrape = async () => (await fetch(`http://${s.config.api.metrics_address}/metrics`)).text();
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (line === undefined) throw new Error(`no series ${series} in the scrape`);
  return Number(line.split(' ')[1]);
};
const cgroupFile = (controller: string, id: string, file: string) => path.join('/sys/fs/cgroup', controller, testCgroupParent(s.dir), id, file);
const readNum = async (f: string) => BigInt((await readFile(f, 'utf8')).trim());
const memStat = async (id: string, key: string) => {
  const line = (await readFile(cgroupFile('memory', id, 'memory.stat'), 'utf8')).split('\n').find((l) => l.startsWith(key + ' '));
  return BigInt(line!.split(' ')[1]!);
};
const MiB = 1024 * 1024;
const NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };

async function runPod(containers: [string, string[], object?][]) {
  const pod = await podConfig(s.dir);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
  const ids: Record<string, string> = {};
  for (const [name, command, extra] of containers) {
    const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
      podSandboxId,
      config: containerConfig(name, image, command, { linux: { securityContext: NS }, ...extra }),
      sandboxConfig: pod,
    });
    await cri(client, 'StartContainer', { containerId });
    ids[name] = containerId;
  }
  return { pod, podSandboxId, ids };
}

describe('the Prometheus endpoint', () => {
  it('counts calls and errors by method and code', async () => {
    const before = await scrape();
    const count = (t: string) => (t.includes('method="Version",code="OK"') ? value(t, 'crius_cri_request_duration_seconds_count{method="Version",code="OK"}') : 0);
    for (let i = 0; i < 3; i++) await callCri(client, 'Version', { version: 'v1' });
    await callCri(client, 'ContainerStatus', { containerId: 'nope' });
    const text = await scrape();
    expect(count(text) - count(before)).toBe(3);
    expect(value(text, 'crius_cri_request_errors_total{method="ContainerStatus",code="NOT_FOUND"}')).toBe(1);
    for (const svc of ['image-svc', 'storage-svc', 'runtime-svc', 'network-svc', 'monitor-svc']) {
      expect(value(text, `crius_service_up{service="${svc}"}`)).toBe(1);
    }
  });

  it('counts pulls as they happen: the stack pulled one image, a failed pull adds a failure', async () => {
    const before = await scrape();
    expect(value(before, 'crius_image_pulls_total')).toBe(1);
    expect(value(before, 'crius_image_pull_bytes_total')).toBeGreaterThan(100_000);
    const failures = value(before, 'crius_image_pull_failures_total');
    await callCri(client, 'PullImage', { image: { image: '127.0.0.1:1/none/busybox:1' } }, 30_000);
    await waitFor('the failed pull to be counted', async () => (value(await scrape(), 'crius_image_pull_failures_total') === failures + 1 ? true : undefined));
  });

  it('reports containers by state and counts exits', async () => {
    const exitsBefore = value(await scrape(), 'crius_container_exits_total');
    const trigger = path.join(s.dir, 'metrics-trigger');
    await mkdir(trigger, { recursive: true });
    await promisify(execFile)('mkfifo', [path.join(trigger, 'go')]);
    const mounts = [{ containerPath: '/trigger', hostPath: trigger }];
    // b exits by itself (status 3) once the test writes to the FIFO.
    const { podSandboxId } = await runPod([['a', ['sleep', '3600']], ['b', ['sh', '-c', 'read x < /trigger/go; exit 3'], { mounts }]]);
    await waitFor('two running containers', async () => (value(await scrape(), 'crius_containers{state="running"}') === 2 ? true : undefined));
    await writeFile(path.join(trigger, 'go'), 'go\n');
    await waitFor('one running, one exited', async () => {
      const t = await scrape();
      return value(t, 'crius_containers{state="running"}') === 1 && value(t, 'crius_containers{state="exited"}') === 1 ? t : undefined;
    }).then((t) => expect(value(t, 'crius_container_exits_total')).toBe(exitsBefore + 1));
    await cri(client, 'RemovePodSandbox', { podSandboxId });
    await waitFor('no containers', async () => {
      const t = await scrape();
      return ['created', 'running', 'exited', 'unknown'].every((st) => value(t, `crius_containers{state="${st}"}`) === 0) ? true : undefined;
    });
  });

  it('reports a stopped service as down', async () => {
    await s.stack.children.get('storage-svc')!.stop();
    try {
      expect(value(await scrape(), 'crius_service_up{service="storage-svc"}')).toBe(0);
    } finally {
      s.stack.children.get('storage-svc')!.start();
      await s.stack.waitHealthy('storage', Date.now() + 15_000);
    }
  });

  it('answers 404 off the metrics path', async () => {
    expect((await fetch(`http://${s.config.api.metrics_address}/other`)).status).toBe(404);
  });
});

describe('CRI stats and metrics from the real cgroups', () => {
  it('a busy container uses CPU, a container holding 32 MiB shows it, with the labels the descriptors name', async () => {
    const { pod, podSandboxId, ids } = await runPod([
      ['burn', ['sh', '-c', 'while :; do :; done']],
      // 32 MiB written to the pod's /dev/shm (tmpfs): charged to this container's memory cgroup, held while it sleeps.
      ['hold', ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=32 && touch /dev/shm/filled && exec sleep 3600']],
    ]);
    type Stats = { stats: { cpu: { usageCoreNanoSeconds: { value: bigint } }; memory: { workingSetBytes: { value: bigint }; usageBytes: { value: bigint } } } };
    const stats = (id: string) => cri<Stats>(client, 'ContainerStats', { containerId: id });

    // CPU: what monitor-svc reports lies between two reads of the cgroup's own counter, and it grows.
    const usage = () => readNum(cgroupFile('cpuacct', ids.burn!, 'cpuacct.usage'));
    const lo = await usage();
    const mid = (await stats(ids.burn!)).stats.cpu.usageCoreNanoSeconds.value;
    const hi = await usage();
    expect(mid).toBeGreaterThanOrEqual(lo);
    expect(mid).toBeLessThanOrEqual(hi);
    await waitFor('half a second more of CPU', async () => ((await stats(ids.burn!)).stats.cpu.usageCoreNanoSeconds.value - mid > 500_000_000n ? true : undefined), 30_000);

    // Memory: the 32 MiB are there, and the working set is the cgroup's usage less its inactive file pages.
    const shm = path.join(s.dir, 'run', 'runtime', 'sandboxes', podSandboxId, 'shm');
    await waitFor('the 32 MiB to be written', async () => (await readFile(path.join(shm, 'filled')).then(() => true, () => undefined)));
    const ws = await waitFor('ContainerStats to show the 32 MiB', async () => {
      const n = Number((await stats(ids.hold!)).stats.memory.workingSetBytes.value);
      return n >= 32 * MiB ? n : undefined;
    });
    expect(ws).toBeLessThan(40 * MiB);
    const cgUsage = await readNum(cgroupFile('memory', ids.hold!, 'memory.usage_in_bytes'));
    const inactiveFile = await memStat(ids.hold!, 'total_inactive_file');
    expect(Math.abs(ws - Number(cgUsage - inactiveFile))).toBeLessThan(MiB);

    // The same figures as CRI metrics, each shaped by its descriptor.
    const { descriptors } = await cri<{ descriptors: { name: string; labelKeys: string[] }[] }>(client, 'ListMetricDescriptors', {});
    const keysOf = new Map(descriptors.map((d) => [d.name, d.labelKeys]));
    const { podMetrics } = await cri<{ podMetrics: any[] }>(client, 'ListPodSandboxMetrics', {});
    const mine = podMetrics.find((p) => p.podSandboxId === podSandboxId);
    expect(mine.containerMetrics.map((c: any) => c.containerId).sort()).toEqual([ids.burn, ids.hold].sort());
    const labels = (m: any) => Object.fromEntries(keysOf.get(m.name)!.map((k, i) => [k, m.labelValues[i]]));
    for (const m of [...mine.metrics, ...mine.containerMetrics.flatMap((c: any) => c.metrics)]) {
      expect(keysOf.has(m.name), `${m.name} has a descriptor`).toBe(true);
      expect(m.labelValues).toHaveLength(keysOf.get(m.name)!.length);
      expect(labels(m)).toMatchObject({ namespace: pod.metadata.namespace, pod: pod.metadata.name });
    }
    const hold = mine.containerMetrics.find((c: any) => c.containerId === ids.hold);
    const wsMetric = hold.metrics.find((m: any) => m.name === 'container_memory_working_set_bytes');
    const { status: holdStatus } = await cri<{ status: { imageId: string } }>(client, 'ContainerStatus', { containerId: ids.hold });
    expect(labels(wsMetric)).toEqual({
      container: 'hold',
      id: `${testCgroupParent(s.dir)}/${ids.hold}`,
      image: holdStatus.imageId,
      name: ids.hold,
      namespace: pod.metadata.namespace,
      pod: pod.metadata.name,
    });
    expect(Number(wsMetric.value.value)).toBeGreaterThanOrEqual(32 * MiB);
    const cpuOf = async () => {
      const all = (await cri<{ podMetrics: any[] }>(client, 'ListPodSandboxMetrics', {})).podMetrics.find((p) => p.podSandboxId === podSandboxId);
      const burn = all.containerMetrics.find((c: any) => c.containerId === ids.burn);
      return Number(burn.metrics.find((m: any) => m.name === 'container_cpu_usage_seconds_total').value.value);
    };
    // Whole seconds (CRI metric values are integers): wait for the counter to tick over.
    const first = await cpuOf();
    await waitFor('container_cpu_usage_seconds_total to grow', async () => ((await cpuOf()) > first ? true : undefined), 30_000);

    await cri(client, 'RemovePodSandbox', { podSandboxId });
  });
});
