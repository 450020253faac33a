// ListContainers against the api.proto contract: every container with its sandbox, metadata,
// image, image_ref and image_id ("MUST always match PullImageResponse.image_ref"), state,
// created_at, and labels and annotations identical to its config; ContainerFilter fields
// "combined with 'AND'": id, state (CREATED is the zero value: an empty ContainerStateValue
// still filters), pod_sandbox_id and label_selector (MatchLabels, ANDed).
import { describe, expect, it } from 'vitest';
import { ContainerState, type Container, type ListContainersResponse } from '@crius/common/cri';
import { ok, pb } from './helpers.js';
import { ODD_ANNOTATIONS, createContainer, minimal, runContainer, runMinimalPod, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const list = async (body: Buffer | object) => (await ok<ListContainersResponse>(env.client, 'ListContainers', body)).containers;
const ids = (cs: Container[]) => cs.map((c) => c.id).sort();
const filter = (...fields: Buffer[]) => pb.msg(1, ...fields);
const byState = (state: ContainerState) => pb.msg(2, ...(state ? [pb.int(1, state)] : []));
const label = (k: string, v: string) => pb.entry(4, k, v);

const c: Record<'created' | 'running' | 'exited' | 'other', string> = { created: '', running: '', exited: '', other: '' };
let podA: string;
let podB: string;

describe('ListContainers', () => {
  it('minimal request (zero bytes) with no container: an empty list', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  it('minimal request: every container of every pod, each complete', async () => {
    const a = await runPod(env);
    podA = a.id;
    c.created = await createContainer(env, a, 'created', ['sleep', '3600'], { labels: { tier: 'web', role: 'idle' }, annotations: ODD_ANNOTATIONS });
    c.running = await runContainer(env, a, 'running', ['sleep', '3600'], { labels: { tier: 'web', role: 'busy' } });
    c.exited = await runContainer(env, a, 'exited', ['true'], { labels: { tier: 'batch' } });
    await waitForState(env, c.exited, ContainerState.CONTAINER_EXITED);
    const b = await runMinimalPod(env);
    podB = b.id;
    c.other = (await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(b.id, 'other', env.image))).containerId;

    const all = await list(Buffer.alloc(0));
    expect(ids(all)).toEqual(Object.values(c).sort());
    const byId = new Map(all.map((x) => [x.id, x]));
    expect(byId.get(c.created)).toMatchObject({
      podSandboxId: podA,
      metadata: { name: 'created', attempt: 0 },
      image: { image: env.image },
      imageId: env.imageId,
      state: ContainerState.CONTAINER_CREATED,
      labels: { tier: 'web', role: 'idle' },
      annotations: ODD_ANNOTATIONS,
    });
    expect(byId.get(c.running)!.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect(byId.get(c.exited)!.state).toBe(ContainerState.CONTAINER_EXITED);
    expect(byId.get(c.other)).toMatchObject({ podSandboxId: podB, labels: {}, annotations: {}, state: ContainerState.CONTAINER_CREATED });
    for (const x of all) {
      expect(x.createdAt, x.id).toBeGreaterThan(0n);
      expect(x.imageId, x.id).toBe(env.imageId);
      expect(x.imageRef, x.id).not.toBe('');
    }
  });

  it('filters by id, each state (CREATED as an empty message too), pod and labels, alone and ANDed', async () => {
    expect(ids(await list(filter(pb.str(1, c.running))))).toEqual([c.running]);
    expect(ids(await list(filter(byState(ContainerState.CONTAINER_CREATED))))).toEqual([c.created, c.other].sort());
    expect(ids(await list(filter(byState(ContainerState.CONTAINER_RUNNING))))).toEqual([c.running]);
    expect(ids(await list(filter(byState(ContainerState.CONTAINER_EXITED))))).toEqual([c.exited]);
    expect(ids(await list(filter(pb.str(3, podB))))).toEqual([c.other]);
    expect(ids(await list(filter(label('tier', 'web'))))).toEqual([c.created, c.running].sort());
    expect(ids(await list(filter(label('tier', 'web'), label('role', 'busy'))))).toEqual([c.running]);
    expect(await list(filter(label('tier', 'web'), label('role', 'none')))).toEqual([]);
    expect(ids(await list(filter(pb.str(3, podA), byState(ContainerState.CONTAINER_CREATED))))).toEqual([c.created]);
    expect(await list(filter(pb.str(1, c.running), byState(ContainerState.CONTAINER_EXITED)))).toEqual([]);
    expect(await list(filter(pb.str(1, c.other), pb.str(3, podA)))).toEqual([]);
  });

  it('full request (every filter field): only the container all of them match; unknown ids match none', async () => {
    expect(ids(await list({ filter: { id: c.running, state: { state: ContainerState.CONTAINER_RUNNING }, podSandboxId: podA, labelSelector: { tier: 'web', role: 'busy' } } }))).toEqual([c.running]);
    expect(await list({ filter: { id: c.running, state: { state: ContainerState.CONTAINER_RUNNING }, podSandboxId: podA, labelSelector: { tier: 'batch' } } })).toEqual([]);
    expect(await list(filter(pb.str(1, 'f'.repeat(64))))).toEqual([]);
    expect(await list(filter(pb.str(3, 'f'.repeat(64))))).toEqual([]);
  });
});
