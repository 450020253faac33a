// Done-when of the foundation: every CRI RPC through the socket gets the answer
// the CRI contract gives it, from the service the routing table names (checked
// on that service's own log), never a hang, never a crash; a service that is
// down is UNAVAILABLE by name, and the launcher brings it back.
//
// The cases come from the routing table: a method with no entry in CASES is
// expected to be UNIMPLEMENTED by its owner (how a new RPC starts life); the
// day it is implemented this test asks for its case.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Metadata, status, type Client } from '@grpc/grpc-js';
import { criMethods, processName, CRI_ROUTES, type CriMethod, type ServiceName } from '@crius/common';
import { ContainerEventResponse, ContainerEventType } from '@crius/common/cri';
import type { Supervised } from '../../services/cli/src/launcher/supervisor.js';
import { useStack, type TestStack } from '../harness/stack.js';
import { callCri, codecs, methodInfo, pathOf } from '../harness/raw-cri.js';
import { answeredBy, markLogs } from '../harness/answered-by.js';
import { cri, podConfig, waitFor } from '../harness/pod.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Reply = any;

interface Case {
  req: object | (() => Promise<object>);
  /** The gRPC code the contract gives this request. */
  code: number;
  /** For errors: text the message must contain (what failed, with which input). */
  details?: string;
  /** For successes: what the reply must hold. */
  reply?: (r: Reply) => void | Promise<void>;
}

const POD = 'no-such-pod';
const CTR = 'no-such-ctr';
const notFound = (what: string): Pick<Case, 'code' | 'details'> => ({ code: status.NOT_FOUND, details: what });
const empty = (r: Reply) => expect(r).toEqual({});

let s: TestStack;
let client: Client;

useStack((stack, c) => {
  s = stack;
  client = c;
});

const CASES: Partial<Record<CriMethod, Case>> = {
  Version: { req: { version: 'v1' }, code: status.OK, reply: (r) => expect(r).toEqual({ version: '0.1.0', runtimeName: 'crius', runtimeVersion: expect.stringMatching(/^\d+\.\d+\.\d+/), runtimeApiVersion: 'v1' }) },
  Status: {
    req: {},
    code: status.OK,
    reply: (r) => expect(r.status.conditions.map((c: Reply) => [c.type, c.status])).toEqual([['RuntimeReady', true], ['NetworkReady', true]]),
  },
  RunPodSandbox: {
    req: async () => ({ config: await podConfig(s.dir) }),
    code: status.OK,
    reply: async (r) => {
      expect(r.podSandboxId).toMatch(/^[0-9a-f]{64}$/);
      const st = await cri<Reply>(client, 'PodSandboxStatus', { podSandboxId: r.podSandboxId });
      expect(st.status.state).toBe(0); // SANDBOX_READY
      await cri(client, 'RemovePodSandbox', { podSandboxId: r.podSandboxId });
    },
  },
  // Stop and remove are idempotent: a sandbox or container already gone is success (api.proto, CRI-O, containerd).
  StopPodSandbox: { req: { podSandboxId: POD }, code: status.OK, reply: empty },
  RemovePodSandbox: { req: { podSandboxId: POD }, code: status.OK, reply: empty },
  PodSandboxStatus: { req: { podSandboxId: POD }, ...notFound(`pod sandbox "${POD}" not found`) },
  ListPodSandbox: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ items: [] }) },
  CreateContainer: { req: { podSandboxId: POD, config: { metadata: { name: 'c' }, image: { image: 'busybox' } } }, ...notFound(`pod sandbox "${POD}" not found`) },
  StartContainer: { req: { containerId: CTR }, ...notFound(`container "${CTR}" not found`) },
  StopContainer: { req: { containerId: CTR }, ...notFound(`container "${CTR}" not found`) },
  RemoveContainer: { req: { containerId: CTR }, code: status.OK, reply: empty },
  ListContainers: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ containers: [] }) },
  ContainerStatus: { req: { containerId: CTR }, ...notFound(`container "${CTR}" not found`) },
  UpdateContainerResources: { req: { containerId: CTR, linux: { cpuShares: 512 } }, ...notFound(`container "${CTR}" not found`) },
  ReopenContainerLog: { req: { containerId: CTR }, ...notFound(`container "${CTR}" not found`) },
  ExecSync: { req: { containerId: CTR, cmd: ['true'] }, ...notFound(`container "${CTR}" not found`) },
  // The gateway answers these three itself, after asking runtime-svc about the target.
  Exec: { req: { containerId: CTR, cmd: ['true'], stdout: true }, ...notFound(`container "${CTR}" not found`) },
  Attach: { req: { containerId: CTR, stdout: true }, ...notFound(`container "${CTR}" not found`) },
  PortForward: { req: { podSandboxId: POD, port: [80] }, ...notFound(`pod sandbox "${POD}" not found`) },
  ContainerStats: { req: { containerId: CTR }, ...notFound(`container "${CTR}" not found`) },
  ListContainerStats: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ stats: [] }) },
  PodSandboxStats: { req: { podSandboxId: POD }, ...notFound(`pod sandbox "${POD}" not found`) },
  ListPodSandboxStats: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ stats: [] }) },
  UpdateRuntimeConfig: { req: { runtimeConfig: { networkConfig: { podCidr: '10.244.0.0/24' } } }, code: status.OK, reply: empty },
  ListMetricDescriptors: {
    req: {},
    code: status.OK,
    reply: (r) => expect(r.descriptors.map((d: Reply) => d.name)).toEqual(expect.arrayContaining(['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes'])),
  },
  ListPodSandboxMetrics: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ podMetrics: [] }) },
  RuntimeConfig: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ linux: { cgroupDriver: 1 } }) }, // CGROUPFS, the configured driver
  ListImages: { req: {}, code: status.OK, reply: (r) => expect(r).toEqual({ images: [] }) },
  // api.proto: an absent image is a reply with no image, not an error.
  ImageStatus: { req: { image: { image: 'busybox' } }, code: status.OK, reply: (r) => expect(r.image).toBeUndefined() },
  // Loopback port 1: nothing listens, so the pull fails at once without leaving the machine.
  PullImage: { req: { image: { image: '127.0.0.1:1/none/busybox:1' } }, code: status.UNAVAILABLE, details: 'registry 127.0.0.1:1 unreachable' },
  RemoveImage: { req: { image: { image: 'busybox' } }, code: status.OK, reply: empty },
  UpdatePodSandboxResources: { req: { podSandboxId: POD }, ...notFound(POD) },
  CheckpointContainer: { req: { containerId: CTR, location: '/var/lib/crius/checkpoint-out.tar' }, ...notFound(CTR) },
  // Pod checkpoint/restore (KEP-5823): something that does not exist is NOT_FOUND naming it.
  CheckpointPod: { req: { podSandboxId: POD, path: '/var/lib/crius/checkpoint-out' }, ...notFound(POD) },
  RestorePod: { req: { path: '/var/lib/crius/no-such-checkpoint' }, ...notFound('/var/lib/crius/no-such-checkpoint') },
  ImageFsInfo: {
    req: {},
    code: status.OK,
    // The mount point of the filesystem that holds the state root (storage-svc's layers).
    reply: (r) => {
      const mp: string = r.imageFilesystems[0].fsId.mountpoint;
      expect(mp === '/' || s.config.state.root === mp || s.config.state.root.startsWith(mp + '/'), mp).toBe(true);
    },
  },
};

/** What a method without a case must answer: UNIMPLEMENTED, by its owner, naming both. */
function unimplementedCase(method: CriMethod): Case {
  const owner = CRI_ROUTES[method];
  if (owner === 'gateway') throw new Error(`${method} is answered by the gateway: give it a case in every-rpc.test.ts`);
  // The smallest request the gateway lets through: ids, and RestorePod's required path.
  return { req: { podSandboxId: POD, containerId: CTR, path: '/var/lib/crius/no-such-checkpoint' }, code: status.UNIMPLEMENTED, details: `${processName(owner)} does not implement ${method} yet` };
}

async function check(method: CriMethod, c: Case): Promise<void> {
  const mark = await markLogs(s);
  const req = typeof c.req === 'function' ? await c.req() : c.req;
  const r = await callCri(client, method, req, 30_000);
  const got = r.ok ? 'OK' : `${status[r.error.code]}: ${r.error.details}`;
  expect(r.ok ? status.OK : r.error.code, `${method} answered ${got}`).toBe(c.code);
  if (!r.ok) expect(r.error.details).toContain(c.details!);
  else await c.reply?.(r.reply);
  const owner = CRI_ROUTES[method];
  const answer = await answeredBy(s, mark, method, owner);
  expect(answer.owner).toBe(owner);
  expect(answer.code).toBe(c.code);
}

describe('every CRI RPC reaches its owner and answers as the contract says', () => {
  const unary = criMethods().filter((m) => !m.serverStreaming);
  it.each(unary.map((m) => m.name))('%s', async (method) => {
    const c = CASES[method];
    if (c && typeof c.code !== 'number') throw new Error(`bad case for ${method}`);
    await check(method, c ?? unimplementedCase(method));
  });
});

/** The unary list each chunked Stream* method is the variant of, and the field holding the items. */
const STREAM_OF: Partial<Record<CriMethod, [CriMethod, string, string]>> = {
  StreamPodSandboxes: ['ListPodSandbox', 'items', 'podSandboxes'],
  StreamContainers: ['ListContainers', 'containers', 'containers'],
  StreamContainerStats: ['ListContainerStats', 'stats', 'containerStats'],
  StreamPodSandboxStats: ['ListPodSandboxStats', 'stats', 'podSandboxStats'],
  StreamPodSandboxMetrics: ['ListPodSandboxMetrics', 'podMetrics', 'podSandboxMetrics'],
  StreamImages: ['ListImages', 'images', 'images'],
};

function readStream(method: CriMethod, partial: object): Promise<{ code: number; details: string; items: Reply[] }> {
  const { req, res } = codecs(method);
  const body = Buffer.from(req.encode(req.fromPartial(partial)).finish());
  return new Promise((resolve) => {
    const items: Reply[] = [];
    const call = client.makeServerStreamRequest(pathOf(methodInfo(method)), (b: Buffer) => b, (b: Buffer) => res.decode(b), body, { deadline: new Date(Date.now() + 15_000) });
    call.on('data', (m: Reply) => items.push(m));
    call.on('error', (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details, items }));
    call.on('end', () => resolve({ code: status.OK, details: '', items }));
  });
}

describe('server-streaming RPCs', () => {
  const streams = criMethods().filter((m) => m.serverStreaming && m.name !== 'GetContainerEvents');
  it.each(streams.map((m) => m.name))('%s streams what its unary variant lists, then ends', async (method) => {
    const variant = STREAM_OF[method];
    const mark = await markLogs(s);
    // One pod, so the sandbox lists have something in them.
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: await podConfig(s.dir) });
    try {
      const r = await readStream(method, {});
      if (!variant) {
        const c = unimplementedCase(method);
        expect([r.code, r.details]).toEqual([c.code, c.details]);
      } else {
        expect(r.code, r.details).toBe(status.OK);
        const [list, listField, streamField] = variant;
        const whole = await cri<Reply>(client, list, {});
        // Figures and timestamps move between the two reads; which items, with which names and labels, must not.
        const strip = (xs: Reply[]) => xs.map((x) => JSON.stringify(x, (k, v) => (k === 'timestamp' || typeof v === 'bigint' ? undefined : v)));
        const streamed = strip(r.items.flatMap((m) => m[streamField] ?? []));
        expect(streamed).toEqual(strip(whole[listField]));
        if (list.includes('PodSandbox')) expect(streamed.join()).toContain(podSandboxId);
      }
      const answer = await answeredBy(s, mark, method, CRI_ROUTES[method]);
      expect(answer.owner).toBe(CRI_ROUTES[method]);
    } finally {
      await cri(client, 'RemovePodSandbox', { podSandboxId });
    }
  });

  it('GetContainerEvents relays the events of a pod run, stop and removal, in order, until cancelled', async () => {
    const call = client.makeServerStreamRequest(pathOf(methodInfo('GetContainerEvents')), (b: Buffer) => b, (b: Buffer) => ContainerEventResponse.decode(b), Buffer.alloc(0), {});
    const events: ContainerEventResponse[] = [];
    const errors: { code: number }[] = [];
    call.on('data', (e: ContainerEventResponse) => events.push(e));
    call.on('error', (e: { code: number }) => errors.push(e));
    // The gateway sends the headers once its bus subscription is in place.
    await withTimeout(once(call, 'metadata') as Promise<[Metadata]>, 10_000, 'the GetContainerEvents headers');
    const pod = await podConfig(s.dir);
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });
    await cri(client, 'StopPodSandbox', { podSandboxId });
    await cri(client, 'RemovePodSandbox', { podSandboxId });
    const mine = () => events.filter((e) => e.containerId === podSandboxId);
    await waitFor('the DELETED event of the pod', async () => (mine().some((e) => e.containerEventType === ContainerEventType.CONTAINER_DELETED_EVENT) ? true : undefined));
    expect(mine().map((e) => e.containerEventType)).toEqual([
      ContainerEventType.CONTAINER_CREATED_EVENT,
      ContainerEventType.CONTAINER_STARTED_EVENT,
      ContainerEventType.CONTAINER_STOPPED_EVENT,
      ContainerEventType.CONTAINER_DELETED_EVENT,
    ]);
    expect(mine()[0]!.podSandboxStatus).toMatchObject({ id: podSandboxId, metadata: { name: pod.metadata.name, uid: pod.metadata.uid } });
    expect(errors).toEqual([]);
    const ended = once(call, 'error');
    call.cancel();
    await withTimeout(ended, 10_000, 'the cancelled stream to end');
    expect(errors.map((e) => e.code)).toEqual([status.CANCELLED]);
  });
});

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL a service and keep it down: the supervisor is told to stop, so it does not restart it. */
async function killAndHold(child: Supervised): Promise<void> {
  const exited = once(child, 'exited');
  process.kill(child.pid!, 'SIGKILL');
  await child.stop();
  await withTimeout(exited, 10_000, `${child.spec.name} to exit`);
}

/** SIGKILL a service and wait for the launcher to start a new one by itself. */
async function killAndAwaitRestart(s: TestStack, service: ServiceName): Promise<void> {
  const child = s.stack.children.get(processName(service))!;
  const pid = child.pid!;
  const restarted = once(child, 'started') as Promise<[number]>;
  process.kill(pid, 'SIGKILL');
  const [newPid] = await withTimeout(restarted, 20_000, `the launcher to restart ${processName(service)}`);
  expect(newPid).not.toBe(pid);
  await s.stack.waitHealthy(service, Date.now() + 20_000);
}

describe('a killed service', () => {
  // A CRI method each service owns, with its case above; storage-svc owns none, so Status shows it.
  const probes: [ServiceName, CriMethod][] = [
    ['runtime', 'ListContainers'],
    ['image', 'ListImages'],
    ['network', 'UpdateRuntimeConfig'],
    ['monitor', 'ListMetricDescriptors'],
  ];

  it.each(probes)('%s-svc: UNAVAILABLE by name while down; restarted by the launcher, it answers again', async (service, method) => {
    const child = s.stack.children.get(processName(service))!;
    await killAndHold(child);
    const c = CASES[method]!;
    const down = await callCri(client, method, c.req as object);
    expect(down.ok ? 'OK' : [down.error.code, down.error.details]).toEqual([status.UNAVAILABLE, `${processName(service)} is not running (no responder for ${method})`]);
    child.start();
    await s.stack.waitHealthy(service, Date.now() + 20_000);
    await check(method, c);
    await killAndAwaitRestart(s, service);
    await check(method, c);
  });

  it('storage-svc: Status says RuntimeReady=false naming it while down, true once the launcher restarted it', async () => {
    const child = s.stack.children.get('storage-svc')!;
    await killAndHold(child);
    const r = await cri<Reply>(client, 'Status', {});
    const runtimeReady = r.status.conditions.find((c: Reply) => c.type === 'RuntimeReady');
    expect(runtimeReady.status).toBe(false);
    expect(runtimeReady.message).toContain('storage-svc');
    child.start();
    await s.stack.waitHealthy('storage', Date.now() + 20_000);
    await check('Status', CASES.Status!);
    await killAndAwaitRestart(s, 'storage');
    await check('Status', CASES.Status!);
  });
});
