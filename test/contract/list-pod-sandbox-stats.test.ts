// ListPodSandboxStats against the api.proto contract: "stats of the pod sandboxes matching a
// filter", each with its attributes and stamped stats; PodSandboxStatsFilter fields "combined
// with 'AND'": id and label_selector (MatchLabels, ANDed).
import { describe, expect, it } from 'vitest';
import type { ListPodSandboxStatsResponse, PodSandboxStats } from '@crius/common/cri';
import { ok, pb } from './helpers.js';
import { runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const list = async (body: Buffer | object) => (await ok<ListPodSandboxStatsResponse>(env.client, 'ListPodSandboxStats', body)).stats;
const ids = (s: PodSandboxStats[]) => s.map((x) => x.attributes!.id).sort();
const filter = (...f: Buffer[]) => pb.msg(1, ...f);
let shop: string;
let blog: string;
let db: string;

describe('ListPodSandboxStats', () => {
  it('minimal request (zero bytes) with no pod: an empty list', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  it('minimal request: every pod, with its attributes, stats and containers', async () => {
    const a = await runPod(env, { labels: { tier: 'web', app: 'shop' } });
    const c = await runContainer(env, a, 'front', ['sleep', '3600']);
    shop = a.id;
    blog = (await runPod(env, { labels: { tier: 'web', app: 'blog' } })).id;
    db = (await runPod(env, { labels: { tier: 'db', app: 'shop' } })).id;
    const all = await list(Buffer.alloc(0));
    expect(ids(all)).toEqual([shop, blog, db].sort());
    const s = all.find((x) => x.attributes!.id === shop)!;
    expect(s.attributes!.labels).toEqual({ tier: 'web', app: 'shop' });
    expect(s.linux!.cpu!.timestamp).toBeGreaterThan(0n);
    expect(s.linux!.memory!.timestamp).toBeGreaterThan(0n);
    expect(s.linux!.containers.map((x) => x.attributes!.id)).toEqual([c]);
  });

  it('filters by id and labels, alone and ANDed; full request with every field', async () => {
    expect(ids(await list(filter(pb.str(1, blog))))).toEqual([blog]);
    expect(ids(await list(filter(pb.entry(2, 'tier', 'web'))))).toEqual([shop, blog].sort());
    expect(ids(await list(filter(pb.entry(2, 'tier', 'web'), pb.entry(2, 'app', 'shop'))))).toEqual([shop]);
    expect(await list(filter(pb.str(1, db), pb.entry(2, 'tier', 'web')))).toEqual([]);
    expect(ids(await list({ filter: { id: db, labelSelector: { tier: 'db', app: 'shop' } } }))).toEqual([db]);
    expect(await list(filter(pb.str(1, 'f'.repeat(64))))).toEqual([]);
  });
});
