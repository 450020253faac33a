// ListContainerStats against the api.proto contract: "stats of all running containers" (with
// cpu and memory stamped > 0; containerd lists the others too, with attributes only), each with
// its attributes; ContainerStatsFilter fields "combined with 'AND'": id, pod_sandbox_id and
// label_selector (MatchLabels, ANDed).
import { describe, expect, it } from 'vitest';
import type { ContainerStats, ListContainerStatsResponse } from '@crius/common/cri';
import { ok, pb } from './helpers.js';
import { runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const list = async (body: Buffer | object) => (await ok<ListContainerStatsResponse>(env.client, 'ListContainerStats', body)).stats;
const ids = (s: ContainerStats[]) => s.map((x) => x.attributes!.id).sort();
const filter = (...f: Buffer[]) => pb.msg(1, ...f);
const label = (k: string, v: string) => pb.entry(3, k, v);
let podA: string;
let web: string;
let db: string;
let other: string;

describe('ListContainerStats', () => {
  it('minimal request (zero bytes) with no container: an empty list', async () => {
    expect(await list(Buffer.alloc(0))).toEqual([]);
  });

  it('minimal request: every running container with its attributes, cpu and memory', async () => {
    const a = await runPod(env);
    podA = a.id;
    web = await runContainer(env, a, 'web', ['sleep', '3600'], { labels: { tier: 'web', app: 'shop' } });
    db = await runContainer(env, a, 'db', ['sleep', '3600'], { labels: { tier: 'db', app: 'shop' } });
    const b = await runPod(env);
    other = await runContainer(env, b, 'other', ['sleep', '3600'], { labels: { tier: 'web', app: 'blog' } });
    const all = await list(Buffer.alloc(0));
    expect(ids(all)).toEqual([web, db, other].sort());
    for (const s of all) {
      expect(s.attributes!.metadata?.name, s.attributes!.id).toBeTruthy();
      expect(s.cpu?.timestamp, s.attributes!.id).toBeGreaterThan(0n);
      expect(s.memory?.timestamp, s.attributes!.id).toBeGreaterThan(0n);
      expect(s.memory?.workingSetBytes?.value, s.attributes!.id).toBeGreaterThan(0n);
    }
    expect(all.find((s) => s.attributes!.id === db)!.attributes!.labels).toEqual({ tier: 'db', app: 'shop' });
  });

  it('filters by id, pod and labels, alone and ANDed; full request with every field', async () => {
    expect(ids(await list(filter(pb.str(1, web))))).toEqual([web]);
    expect(ids(await list(filter(pb.str(2, podA))))).toEqual([web, db].sort());
    expect(ids(await list(filter(label('tier', 'web'))))).toEqual([web, other].sort());
    expect(ids(await list(filter(label('tier', 'web'), label('app', 'shop'))))).toEqual([web]);
    expect(ids(await list(filter(pb.str(2, podA), label('tier', 'web'))))).toEqual([web]);
    expect(await list(filter(pb.str(1, other), pb.str(2, podA)))).toEqual([]);
    expect(ids(await list({ filter: { id: db, podSandboxId: podA, labelSelector: { tier: 'db', app: 'shop' } } }))).toEqual([db]);
    expect(await list({ filter: { id: db, podSandboxId: podA, labelSelector: { tier: 'web' } } })).toEqual([]);
    expect(await list(filter(pb.str(1, 'f'.repeat(64))))).toEqual([]);
  });
});
