// ListPodSandbox against the api.proto contract: every sandbox with created_at > 0 and labels and
// annotations "identical" to its config; PodSandboxFilter fields "combined with 'AND'": id,
// state (READY is the zero value: an empty PodSandboxStateValue still filters) and label_selector
// (MatchLabels, "requirements are ANDed").
import { describe, expect, it } from 'vitest';
import type { ListPodSandboxResponse, PodSandbox } from '@crius/common/cri';
import { ok, pb } from './helpers.js';
import { ODD_ANNOTATIONS, minimal, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const list = async (body: Buffer | object) => (await ok<ListPodSandboxResponse>(env.client, 'ListPodSandbox', body)).items;
const ids = (items: PodSandbox[]) => items.map((p) => p.id).sort();
/** ListPodSandboxRequest { filter { ... } } from filter fields. */
const filter = (...fields: Buffer[]) => pb.msg(1, ...fields);
const byState = (state: number) => pb.msg(2, ...(state ? [pb.int(1, state)] : []));
const label = (k: string, v: string) => pb.entry(3, k, v);

let a: string;
let b: string;
let c: string;

describe('ListPodSandbox', () => {
  it('minimal request (zero bytes) with no sandbox: an empty list', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  it('minimal request: every sandbox, each with its metadata, state, created_at, labels, annotations and handler', async () => {
    const pa = await runPod(env, { labels: { app: 'a', tier: 'web' }, annotations: ODD_ANNOTATIONS });
    const pb_ = await runPod(env, { labels: { app: 'b', tier: 'web' } }, 'crun');
    const pc = await runMinimalPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(pc.id));
    [a, b, c] = [pa.id, pb_.id, pc.id];
    const items = await list(Buffer.alloc(0));
    expect(ids(items)).toEqual([a, b, c].sort());
    const byId = new Map(items.map((p) => [p.id, p]));
    expect(byId.get(a)).toMatchObject({ metadata: pa.config.metadata, state: 0, labels: { app: 'a', tier: 'web' }, annotations: ODD_ANNOTATIONS, runtimeHandler: 'runc' });
    expect(byId.get(b)).toMatchObject({ state: 0, runtimeHandler: 'crun', annotations: {} });
    expect(byId.get(c)).toMatchObject({ metadata: { ...pc.metadata, attempt: 0 }, state: 1, labels: {}, annotations: {} });
    for (const p of items) expect(p.createdAt, p.id).toBeGreaterThan(0n);
  });

  it('filters by id, by state (READY as an empty message too), by labels, each alone and ANDed', async () => {
    expect(ids(await list(filter(pb.str(1, a))))).toEqual([a]);
    expect(ids(await list(filter(byState(0))))).toEqual([a, b].sort());
    expect(ids(await list(filter(byState(1))))).toEqual([c]);
    expect(ids(await list(filter(label('tier', 'web'))))).toEqual([a, b].sort());
    expect(ids(await list(filter(label('tier', 'web'), label('app', 'b'))))).toEqual([b]);
    expect(await list(filter(label('tier', 'web'), label('app', 'c')))).toEqual([]);
    expect(await list(filter(label('tier', '')))).toEqual([]); // a selector value must match exactly
    // AND across fields: the id of a ready pod with state NOTREADY matches nothing.
    expect(await list(filter(pb.str(1, a), byState(1)))).toEqual([]);
    expect(ids(await list(filter(pb.str(1, c), byState(1))))).toEqual([c]);
  });

  it('full request (every filter field): only the sandbox all of them match; an unknown id matches none', async () => {
    expect(ids(await list({ filter: { id: b, state: { state: 0 }, labelSelector: { app: 'b', tier: 'web' } } }))).toEqual([b]);
    expect(await list({ filter: { id: b, state: { state: 0 }, labelSelector: { app: 'a' } } })).toEqual([]);
    expect(await list(filter(pb.str(1, 'f'.repeat(64))))).toEqual([]);
  });
});
