// Done-when of the foundation: every CRI RPC through the socket gets a real
// answer or UNIMPLEMENTED naming its owning service — never a hang, never a
// crash; a service that is down is UNAVAILABLE by name and comes back.
import { describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import { criMethods, processName, CRI_ROUTES, type CriMethod, type ServiceName } from '@crius/common';
import { useStack, type TestStack } from '../harness/stack.js';
import { callCri, codecs, methodInfo, pathOf } from '../harness/raw-cri.js';

/** The smallest request that passes the gateway's required-field checks. */
const SAMPLE: Partial<Record<CriMethod, object>> = {
  Version: { version: 'v1' },
  RunPodSandbox: { config: { metadata: { name: 'p', namespace: 'default', uid: 'uid-1', attempt: 0 } } },
  CreateContainer: { podSandboxId: 'no-such-pod', config: { metadata: { name: 'c' }, image: { image: 'busybox' } } },
  ExecSync: { containerId: 'no-such-ctr', cmd: ['true'] },
  Exec: { containerId: 'no-such-ctr', cmd: ['true'] },
  ImageStatus: { image: { image: 'busybox' } },
  // Loopback port 1: nothing listens, so the pull fails at once without leaving the machine.
  PullImage: { image: { image: '127.0.0.1:1/none/busybox:1' } },
  RemoveImage: { image: { image: 'busybox' } },
  RestorePod: { path: '/var/lib/crius/no-such-checkpoint' },
};
for (const m of criMethods()) {
  if (SAMPLE[m.name]) continue;
  SAMPLE[m.name] = { podSandboxId: 'no-such-pod', containerId: 'no-such-ctr' };
}

let s: TestStack;
let client: Client;

useStack((stack, c) => {
  s = stack;
  client = c;
});

describe('every CRI RPC reaches its owner', () => {
  const unaryMethods = criMethods().filter((m) => !m.serverStreaming);
  it.each(unaryMethods.map((m) => m.name))('%s answers or is UNIMPLEMENTED by its owner', async (method) => {
    const r = await callCri(client, method, SAMPLE[method]!);
    const owner = CRI_ROUTES[method];
    if (r.ok) return;
    if (method === 'PullImage') {
      expect(r.error.code).toBe(status.UNAVAILABLE);
      expect(r.error.details).toContain('127.0.0.1:1');
      return;
    }
    // Allowed: the owner does not implement it yet, or it did and rejected our fake IDs.
    expect([status.UNIMPLEMENTED, status.NOT_FOUND, status.INVALID_ARGUMENT]).toContain(r.error.code);
    if (r.error.code === status.UNIMPLEMENTED) {
      expect(owner).not.toBe('gateway');
      expect(r.error.details).toContain(processName(owner as ServiceName));
      expect(r.error.details).toContain(method);
    }
  });

  // Pod checkpoint/restore (KEP-5823) is implemented: a well-formed request
  // about something that does not exist is NOT_FOUND naming it, never
  // UNIMPLEMENTED (kubelet would fall back) or UNKNOWN.
  it.each([
    ['CheckpointPod', { podSandboxId: 'no-such-pod', path: '/var/lib/crius/checkpoint-out' }, 'no-such-pod'],
    ['RestorePod', { path: '/var/lib/crius/no-such-checkpoint' }, '/var/lib/crius/no-such-checkpoint'],
  ] as const)('%s is answered by runtime-svc', async (method, req, named) => {
    const r = await callCri(client, method, req);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(status.NOT_FOUND);
    expect(r.error.details).toContain(named);
  });

  it('Version is answered by the gateway as crius v1', async () => {
    const r = await callCri(client, 'Version', { version: 'v1' });
    expect(r.ok && r.reply).toMatchObject({ runtimeName: 'crius', runtimeApiVersion: 'v1' });
  });

  it('Status reports RuntimeReady from the services and lists handlers', async () => {
    const r = await callCri(client, 'Status', { verbose: true });
    if (!r.ok) throw r.error;
    const reply = r.reply as { status: { conditions: { type: string; status: boolean }[] }; info: Record<string, string>; runtimeHandlers: { name: string }[] };
    expect(reply.status.conditions.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);
    // The launcher installed the default bridge config into the stack's empty CNI dir.
    expect(reply.status.conditions.find((c) => c.type === 'NetworkReady')?.status).toBe(true);
    expect(Object.keys(reply.info).sort()).toEqual(['image-svc', 'monitor-svc', 'network-svc', 'runtime-svc', 'storage-svc']);
    expect(reply.runtimeHandlers.map((h) => h.name)).toEqual(expect.arrayContaining(['runc', 'crun']));
  });

  const streamMethods = criMethods().filter((m) => m.serverStreaming && m.name !== 'GetContainerEvents');
  it.each(streamMethods.map((m) => m.name))('server-streaming %s ends or is UNIMPLEMENTED, no hang', async (method) => {
    const info = methodInfo(method);
    const { req } = codecs(method);
    const body = Buffer.from(req.encode(req.fromPartial({})).finish());
    const result = await new Promise<{ code: number; details: string; count: number }>((resolve) => {
      let count = 0;
      const call = client.makeServerStreamRequest(pathOf(info), (b: Buffer) => b, (b: Buffer) => b, body, { deadline: new Date(Date.now() + 5000) });
      call.on('data', () => count++);
      call.on('error', (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details, count }));
      call.on('end', () => resolve({ code: status.OK, details: '', count }));
    });
    expect([status.OK, status.UNIMPLEMENTED]).toContain(result.code);
    if (result.code === status.UNIMPLEMENTED) expect(result.details).toContain(processName(CRI_ROUTES[method] as ServiceName));
  });

  it('GetContainerEvents stays open and relays bus events until cancelled', async () => {
    const info = methodInfo('GetContainerEvents');
    const call = client.makeServerStreamRequest(pathOf(info), (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), {});
    const errors: { code: number }[] = [];
    call.on('error', (e: { code: number }) => errors.push(e));
    await new Promise((r) => setTimeout(r, 300));
    expect(errors).toEqual([]);
    call.cancel();
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.map((e) => e.code)).toEqual([status.CANCELLED]);
  });
});

describe('a killed service', () => {
  // A CRI method each service owns; storage-svc owns none, so Status shows it.
  const probes: [ServiceName, CriMethod, object][] = [
    ['runtime', 'ListContainers', {}],
    ['image', 'ListImages', {}],
    ['network', 'UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '' } } }],
    ['monitor', 'ListMetricDescriptors', {}],
  ];

  it.each(probes)('%s-svc: UNAVAILABLE by name, restarted by the launcher, then answers again', async (service, method, req) => {
    const child = s.stack.children.get(processName(service))!;
    const pid = child.pid!;
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    const down = await callCri(client, method, req);
    expect(down.ok).toBe(false);
    if (!down.ok) {
      expect(down.error.code).toBe(status.UNAVAILABLE);
      expect(down.error.details).toContain(processName(service));
    }
    await s.stack.waitHealthy(service, Date.now() + 15_000);
    expect(child.pid).not.toBe(pid);
    const back = await callCri(client, method, req);
    expect(back.ok || back.error.code !== status.UNAVAILABLE).toBe(true);
  });

  it('storage-svc: Status says RuntimeReady=false naming it, until the launcher restarts it', async () => {
    const child = s.stack.children.get('storage-svc')!;
    process.kill(child.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    const r = await callCri(client, 'Status', {});
    const cond = r.ok ? (r.reply as { status: { conditions: { type: string; status: boolean; message: string }[] } }).status.conditions[0]! : undefined;
    expect(cond?.status).toBe(false);
    expect(cond?.message).toContain('storage-svc');
    await s.stack.waitHealthy('storage', Date.now() + 15_000);
    const again = await callCri(client, 'Status', {});
    expect(again.ok && (again.reply as { status: { conditions: { status: boolean }[] } }).status.conditions[0]!.status).toBe(true);
  });
});
