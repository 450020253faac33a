// StreamPodSandboxStats against the api.proto contract: results "in lists of at least one item",
// each pod's stats "in exactly one response", not duplicated, the stream closed with OK (EOF)
// after the last; the same pods and filter as ListPodSandboxStats.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ListPodSandboxStatsResponse, PodSandboxStats } from '@crius/common/cri';
import { ok, pb, stream } from './helpers.js';
import { runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const streamStats = (body: Buffer) => stream<{ podSandboxStats: PodSandboxStats[] }>(env.client, 'StreamPodSandboxStats', body);
const ids = (s: PodSandboxStats[]) => s.map((x) => x.attributes!.id).sort();

describe('StreamPodSandboxStats', () => {
  it('minimal request (zero bytes) with no pod: no message, then OK', async () => {
    expect(await streamStats(Buffer.alloc(0))).toMatchObject({ code: status.OK, messages: [] });
  });

  it('minimal request: every pod exactly once, in non-empty lists, as ListPodSandboxStats has them', async () => {
    await runPod(env, { labels: { tier: 'web' } });
    await runMinimalPod(env);
    const r = await streamStats(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    for (const m of r.messages) expect(m.podSandboxStats.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.podSandboxStats);
    expect(new Set(ids(streamed)).size).toBe(streamed.length);
    expect(ids(streamed)).toEqual(ids((await ok<ListPodSandboxStatsResponse>(env.client, 'ListPodSandboxStats', Buffer.alloc(0))).stats));
    expect(streamed).toHaveLength(2);
  });

  it('full request (a filter with every field) streams only what it matches; no match is no message and OK', async () => {
    const web = (await streamStats(pb.msg(1, pb.entry(2, 'tier', 'web')))).messages.flatMap((m) => m.podSandboxStats);
    expect(web).toHaveLength(1);
    const exact = await streamStats(pb.msg(1, pb.str(1, web[0]!.attributes!.id), pb.entry(2, 'tier', 'web')));
    expect(ids(exact.messages.flatMap((m) => m.podSandboxStats))).toEqual([web[0]!.attributes!.id]);
    expect(await streamStats(pb.msg(1, pb.str(1, web[0]!.attributes!.id), pb.entry(2, 'tier', 'db')))).toMatchObject({ code: status.OK, messages: [] });
  });
});
