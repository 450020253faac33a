// StreamContainerStats against the api.proto contract: results "in lists of at least one item",
// each container's stats "in exactly one response", not duplicated, the stream closed with OK
// (EOF) after the last; the same containers and filter as ListContainerStats.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ContainerStats, ListContainerStatsResponse } from '@crius/common/cri';
import { ok, pb, stream } from './helpers.js';
import { runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const streamStats = (body: Buffer) => stream<{ containerStats: ContainerStats[] }>(env.client, 'StreamContainerStats', body);
const ids = (s: ContainerStats[]) => s.map((x) => x.attributes!.id).sort();

describe('StreamContainerStats', () => {
  it('minimal request (zero bytes) with no container: no message, then OK', async () => {
    expect(await streamStats(Buffer.alloc(0))).toMatchObject({ code: status.OK, messages: [] });
  });

  it('minimal request: every container exactly once, in non-empty lists, as ListContainerStats has them', async () => {
    const pod = await runPod(env);
    await runContainer(env, pod, 'one', ['sleep', '3600'], { labels: { n: '1' } });
    await runContainer(env, pod, 'two', ['sleep', '3600'], { labels: { n: '2' } });
    const r = await streamStats(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    for (const m of r.messages) expect(m.containerStats.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.containerStats);
    expect(new Set(ids(streamed)).size).toBe(streamed.length);
    expect(ids(streamed)).toEqual(ids((await ok<ListContainerStatsResponse>(env.client, 'ListContainerStats', Buffer.alloc(0))).stats));
    expect(streamed).toHaveLength(2);
    for (const s of streamed) expect(s.cpu?.timestamp).toBeGreaterThan(0n);
  });

  it('full request (a filter with every field) streams only what it matches; no match is no message and OK', async () => {
    const all = (await ok<ListContainerStatsResponse>(env.client, 'ListContainerStats', Buffer.alloc(0))).stats;
    const two = all.find((s) => s.attributes!.labels.n === '2')!.attributes!.id;
    const podId = (await ok<{ containers: { id: string; podSandboxId: string }[] }>(env.client, 'ListContainers', Buffer.alloc(0))).containers[0]!.podSandboxId;
    const r = await streamStats(pb.msg(1, pb.str(1, two), pb.str(2, podId), pb.entry(3, 'n', '2')));
    expect(ids(r.messages.flatMap((m) => m.containerStats))).toEqual([two]);
    expect(await streamStats(pb.msg(1, pb.str(1, two), pb.entry(3, 'n', '1')))).toMatchObject({ code: status.OK, messages: [] });
  });
});
