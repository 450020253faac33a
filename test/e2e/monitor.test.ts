// monitor-svc end to end: exits reach runtime-svc within a second, events in
// order on the bus and over GetContainerEvents, stats from the real cgroups,
// log reopen without losing a line, and no exit lost across a monitor-svc
// restart.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { NatsConnection } from 'nats';
import { connectBus, credentialsDir } from '@crius/common';
import { ContainerEventResponse } from '@crius/common/cri';
import type { TestStack } from '../harness/stack.js';
import { methodInfo, pathOf, rawClient } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, waitFor, startPodStack, type PodStack } from '../harness/pod.js';

let stack: PodStack;
let s: TestStack;
let client: Client;
let image: string;
let observer: NatsConnection;

beforeAll(async () => {
  stack = await startPodStack();
  ({ s, client, image } = stack);
  observer = await connectBus({ address: s.config.bus.address, user: 'observer', credentialsDir: credentialsDir(s.config), reconnect: false });
});
afterAll(async () => {
  await observer?.close();
  await stack?.stop();
});

const NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };
type Ev = { id: string; type: number; at: number };

/** Events as an observer on the bus sees them; live once nats-server confirmed the subscription. */
async function natsEvents(): Promise<{ events: Ev[]; stop(): void }> {
  const events: Ev[] = [];
  const sub = observer.subscribe('crius.v1.events.container.>', {
    callback: (_e, m) => {
      const ev = ContainerEventResponse.decode(m.data);
      events.push({ id: ev.containerId, type: ev.containerEventType, at: Date.now() });
    },
  });
  await observer.flush();
  return { events, stop: () => sub.unsubscribe() };
}

/** Events over GetContainerEvents; live once the gateway sent the stream's headers. */
async function grpcEvents(): Promise<{ events: Ev[]; stop(): void }> {
  const events: Ev[] = [];
  const call = client.makeServerStreamRequest(pathOf(methodInfo('GetContainerEvents')), (b: Buffer) => b, (b: Buffer) => ContainerEventResponse.decode(b), Buffer.alloc(0), {});
  call.on('data', (ev: ContainerEventResponse) => events.push({ id: ev.containerId, type: ev.containerEventType, at: Date.now() }));
  call.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('GetContainerEvents sent no headers within 10 s')), 10_000);
    call.once('metadata', () => (clearTimeout(timer), resolve()));
  });
  return { events, stop: () => call.cancel() };
}

async function podWith(name: string, command: string[], extra: object = {}) {
  const pod = await podConfig(s.dir);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
  const { containerId } = await cri<{ containerId: string }>(client, 'CreateContainer', {
    podSandboxId,
    config: containerConfig(name, image, command, { linux: { securityContext: NS }, ...extra }),
    sandboxConfig: pod,
  });
  await cri(client, 'StartContainer', { containerId });
  return { pod, podSandboxId, containerId };
}

describe('monitor-svc', () => {
  it('sees an exit within a second and publishes the same ordered events on NATS and gRPC', async () => {
    const bus = await natsEvents();
    const grpc = await grpcEvents();
    const { podSandboxId, containerId } = await podWith('quick', ['sh', '-c', 'sleep 0.5; exit 3']);
    const stopped = await waitFor('STOPPED event', async () => bus.events.find((e) => e.id === containerId && e.type === 2), 5000);
    const exitFile = await import('node:fs/promises').then((fs) => fs.stat(path.join(s.dir, 'run', 'runtime', 'exits', containerId)));
    // Correctness bound from the issue: the exit is observed within 1 s of conmon recording it.
    expect(stopped.at - exitFile.mtimeMs).toBeLessThan(1000);
    await cri(client, 'RemovePodSandbox', { podSandboxId });
    await waitFor('DELETED of the pod', async () => (grpc.events.some((e) => e.id === podSandboxId && e.type === 3) ? true : undefined));
    bus.stop();
    grpc.stop();
    const seq = (evs: Ev[]) => evs.filter((e) => e.id === containerId || e.id === podSandboxId).map((e) => `${e.id === podSandboxId ? 'pod' : 'ctr'}:${e.type}`);
    // created(0) started(1) for the pod, then the container created/started/stopped, then removal.
    expect(seq(bus.events)).toEqual(['pod:0', 'pod:1', 'ctr:0', 'ctr:1', 'ctr:2', 'pod:2', 'ctr:3', 'pod:3']);
    expect(seq(grpc.events)).toEqual(seq(bus.events));
    const st = await cri<{ items: unknown[] }>(client, 'ListPodSandbox', {});
    expect(st.items).toEqual([]);
  });

  it('reports CPU growing, memory as the cgroup says, and pod network stats', async () => {
    const { podSandboxId, containerId } = await podWith('burn', ['sh', '-c', 'while :; do :; done']);
    type Stats = { stats: { cpu: { usageCoreNanoSeconds: { value: bigint } }; memory: { workingSetBytes: { value: bigint }; usageBytes: { value: bigint } } } };
    const a = await cri<Stats>(client, 'ContainerStats', { containerId });
    const cpu = async () => (await cri<Stats>(client, 'ContainerStats', { containerId })).stats.cpu.usageCoreNanoSeconds.value;
    await waitFor('100 ms more of CPU', async () => ((await cpu()) - a.stats.cpu.usageCoreNanoSeconds.value > 100_000_000n ? true : undefined), 30_000);
    const cg = path.join('/sys/fs/cgroup/memory', path.basename(s.dir).replace(/^/, '/crius-e2e-'), containerId);
    const usage = BigInt((await readFile(path.join(cg, 'memory.usage_in_bytes'), 'utf8')).trim());
    const c = await cri<Stats>(client, 'ContainerStats', { containerId });
    expect(Number(c.stats.memory.usageBytes.value)).toBeCloseTo(Number(usage), -6);
    const pod = await cri<{ stats: { linux: { network: { defaultInterface: { name: string; rxBytes: { value: bigint } } } } } }>(client, 'PodSandboxStats', { podSandboxId });
    expect(pod.stats.linux.network.defaultInterface.name).toBe('eth0');
    const list = await cri<{ stats: { attributes: { id: string } }[] }>(client, 'ListContainerStats', { filter: { podSandboxId } });
    expect(list.stats.map((x) => x.attributes.id)).toEqual([containerId]);
    await cri(client, 'RemovePodSandbox', { podSandboxId });
  });

  it('reopens a rotated log without losing a line', async () => {
    const { pod, podSandboxId, containerId } = await podWith('counter', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.02; done']);
    const log = path.join(pod.logDirectory, 'counter/0.log');
    await waitFor('some lines', async () => ((await readFile(log, 'utf8').catch(() => '')).includes('line-20') ? true : undefined));
    await rename(log, `${log}.1`);
    await cri(client, 'ReopenContainerLog', { containerId });
    await waitFor('lines in the new file', async () => ((await readFile(log, 'utf8').catch(() => '')).split('\n').length > 20 ? true : undefined));
    await cri(client, 'StopContainer', { containerId, timeout: 0 });
    const numbers = ((await readFile(`${log}.1`, 'utf8')) + (await readFile(log, 'utf8')))
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(/line-(\d+)$/.exec(l)?.[1]));
    expect(numbers.length).toBeGreaterThanOrEqual(40); // at least 20 before the rename and 20 after
    expect(numbers).toEqual(numbers.map((_n, i) => i + 1));
    await cri(client, 'RemovePodSandbox', { podSandboxId });
  });

  it('loses no exit while monitor-svc is down, and reports each once', async () => {
    const bus = await natsEvents();
    // Each container exits with its number once the test writes to its FIFO.
    const trigger = path.join(s.dir, 'monitor-triggers');
    await mkdir(trigger, { recursive: true });
    for (const i of [1, 2, 3]) await promisify(execFile)('mkfifo', [path.join(trigger, `go${i}`)]);
    const mounts = [{ containerPath: '/trigger', hostPath: trigger }];
    const pods = await Promise.all([1, 2, 3].map((i) => podWith(`exit${i}`, ['sh', '-c', `read x < /trigger/go${i}; exit ${i}`], { mounts })));
    const monitor = s.stack.children.get('monitor-svc')!;
    await monitor.stop();
    for (const i of [1, 2, 3]) await writeFile(path.join(trigger, `go${i}`), 'go\n');
    // All three have exited while it is down: conmon wrote their exit files.
    for (const p of pods) {
      await waitFor('conmon to record the exit', async () => (await stat(path.join(s.dir, 'run', 'runtime', 'exits', p.containerId)).then(() => true, () => undefined)), 15_000);
    }
    expect(bus.events.filter((e) => e.type === 2 && pods.some((p) => p.containerId === e.id))).toEqual([]);
    monitor.start();
    await s.stack.waitHealthy('monitor', Date.now() + 15_000);
    for (const [i, p] of pods.entries()) {
      await waitFor(`exit ${i + 1}`, async () => (bus.events.some((e) => e.id === p.containerId && e.type === 2) ? true : undefined), 10_000);
      const st = await cri<{ status: { exitCode: number } }>(client, 'ContainerStatus', { containerId: p.containerId });
      expect(st.status.exitCode).toBe(i + 1);
    }
    // runtime-svc publishes every container event, in order: once a container's DELETED event
    // is here, every STOPPED published before it is too, and none can follow (no record left).
    for (const p of pods) await cri(client, 'RemovePodSandbox', { podSandboxId: p.podSandboxId });
    for (const p of pods) {
      await waitFor('the DELETED event', async () => (bus.events.some((e) => e.id === p.containerId && e.type === 3) ? true : undefined));
    }
    bus.stop();
    for (const p of pods) expect(bus.events.filter((e) => e.id === p.containerId && e.type === 2)).toHaveLength(1);
  });
});
