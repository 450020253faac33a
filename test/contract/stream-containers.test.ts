// StreamContainers against the api.proto contract: results "in lists of at least one item", each
// container "in exactly one response", not duplicated, the stream closed with OK (EOF) after the
// last; the same containers, and the same filter semantics, as ListContainers.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type Container, type ListContainersResponse } from '@crius/common/cri';
import { ok, pb, stream } from './helpers.js';
import { createContainer, runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const streamContainers = (body: Buffer) => stream<{ containers: Container[] }>(env.client, 'StreamContainers', body);
const byId = (x: Container, y: Container) => x.id.localeCompare(y.id);
let running: string;

describe('StreamContainers', () => {
  it('minimal request (zero bytes) with no container: no message, then OK', async () => {
    expect(await streamContainers(Buffer.alloc(0))).toMatchObject({ code: status.OK, messages: [] });
  });

  it('minimal request: every container exactly once, in non-empty lists, as ListContainers has them', async () => {
    const pod = await runPod(env);
    running = await runContainer(env, pod, 'running', ['sleep', '3600'], { labels: { tier: 'web' } });
    await createContainer(env, pod, 'created', ['sleep', '3600'], { labels: { tier: 'db' } });
    const r = await streamContainers(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    for (const m of r.messages) expect(m.containers.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.containers);
    expect(new Set(streamed.map((x) => x.id)).size).toBe(streamed.length);
    const listed = (await ok<ListContainersResponse>(env.client, 'ListContainers', Buffer.alloc(0))).containers;
    expect(streamed.sort(byId)).toEqual(listed.sort(byId));
    expect(streamed).toHaveLength(2);
  });

  it('full request (a filter with every field) streams only what it matches; no match is no message and OK', async () => {
    const pod = (await ok<ListContainersResponse>(env.client, 'ListContainers', Buffer.alloc(0))).containers[0]!.podSandboxId;
    const match = await streamContainers(pb.msg(1, pb.str(1, running), pb.msg(2, pb.int(1, ContainerState.CONTAINER_RUNNING)), pb.str(3, pod), pb.entry(4, 'tier', 'web')));
    expect(match.messages.flatMap((m) => m.containers).map((x) => x.id)).toEqual([running]);
    const created = await streamContainers(pb.msg(1, pb.msg(2)));
    expect(created.messages.flatMap((m) => m.containers).map((x) => x.labels)).toEqual([{ tier: 'db' }]);
    const none = await streamContainers(pb.msg(1, pb.str(1, running), pb.msg(2)));
    expect(none).toMatchObject({ code: status.OK, messages: [] });
  });
});
