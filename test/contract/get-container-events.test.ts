// GetContainerEvents against the api.proto contract, as the kubelet's evented PLEG reads it:
// one event per container transition (CREATED, STARTED, STOPPED, DELETED) with the container's
// id, a created_at in nanoseconds, the pod's status and its containers' statuses as they are
// after the change; the sandbox's own transitions carry the sandbox id. The stream stays open
// until the client cancels it.
import { describe, expect, it } from 'vitest';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { ContainerEventType, ContainerState, type ContainerEventResponse } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { codecs, methodInfo, pathOf } from '../harness/raw-cri.js';
import { ok } from './helpers.js';
import { minimal, nowNs, runMinimalPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

function subscribe(body: Buffer) {
  const { res } = codecs('GetContainerEvents');
  const events: ContainerEventResponse[] = [];
  const s: ClientReadableStream<ContainerEventResponse> = env.client.makeServerStreamRequest(
    pathOf(methodInfo('GetContainerEvents')),
    (b: Buffer) => b,
    (b: Buffer) => res.decode(b) as ContainerEventResponse,
    body,
  );
  s.on('data', (e: ContainerEventResponse) => events.push(e));
  const ended = new Promise<{ code: number }>((resolve) => s.on('status', (st: { code: number }) => resolve(st)));
  s.on('error', () => undefined);
  return { events, cancel: () => s.cancel(), ended };
}

const { CONTAINER_CREATED_EVENT: CREATED, CONTAINER_STARTED_EVENT: STARTED, CONTAINER_STOPPED_EVENT: STOPPED, CONTAINER_DELETED_EVENT: DELETED } = ContainerEventType;

describe('GetContainerEvents', () => {
  it('the request (no fields): each transition of a container once, in order, with the pod and container statuses after it', async () => {
    const sub = subscribe(Buffer.alloc(0));
    // The subscription is live once an event of ours arrives: a pod of its own.
    const probe = await runMinimalPod(env);
    await waitFor('the subscription to see a sandbox event', async () => (sub.events.some((e) => e.containerId === probe.id) ? true : undefined));
    const before = nowNs();
    const { id: podId } = await runMinimalPod(env);
    const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(podId, 'watched', env.image));
    await ok(env.client, 'StartContainer', minimal.id(containerId));
    await ok(env.client, 'StopContainer', minimal.id(containerId));
    await ok(env.client, 'RemoveContainer', minimal.id(containerId));
    await ok(env.client, 'RemovePodSandbox', minimal.id(podId));

    const mine = await waitFor('the container to be deleted', async () => {
      const e = sub.events.filter((x) => x.containerId === containerId);
      return e.some((x) => x.containerEventType === DELETED) ? e : undefined;
    });
    expect(mine.map((e) => e.containerEventType)).toEqual([CREATED, STARTED, STOPPED, DELETED]);
    let last = before;
    for (const e of mine) {
      expect(e.createdAt).toBeGreaterThanOrEqual(last);
      last = e.createdAt;
      expect(e.podSandboxStatus?.id, ContainerEventType[e.containerEventType]).toBe(podId);
    }
    const stateIn = (e: ContainerEventResponse) => e.containersStatuses.find((c) => c.id === containerId)?.state;
    expect(mine.slice(0, 3).map(stateIn)).toEqual([ContainerState.CONTAINER_CREATED, ContainerState.CONTAINER_RUNNING, ContainerState.CONTAINER_EXITED]);
    expect(stateIn(mine[3]!)).toBeUndefined(); // deleted: no longer among the pod's containers

    // The sandbox's own transitions name the sandbox.
    const pod = await waitFor('the sandbox to be deleted', async () => {
      const e = sub.events.filter((x) => x.containerId === podId);
      return e.some((x) => x.containerEventType === DELETED) ? e : undefined;
    });
    expect(pod.map((e) => e.containerEventType)).toEqual([CREATED, STARTED, STOPPED, DELETED]);
    expect(pod[0]!.podSandboxStatus).toMatchObject({ id: podId, state: 0 });

    sub.cancel();
    expect((await sub.ended).code).toBe(status.CANCELLED);
  });

  it('two subscribers each get every event', async () => {
    const one = subscribe(Buffer.alloc(0));
    const two = subscribe(Buffer.alloc(0));
    const seen = (sub: ReturnType<typeof subscribe>, id: string) => sub.events.some((e) => e.containerId === id);
    const { id } = await runMinimalPod(env);
    await waitFor('both to see the sandbox', async () => (seen(one, id) && seen(two, id) ? true : undefined));
    one.cancel();
    two.cancel();
  });
});
