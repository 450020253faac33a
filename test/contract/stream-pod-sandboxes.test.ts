// StreamPodSandboxes against the api.proto contract: results "in lists of at least one item",
// each item "in exactly one response", not duplicated, the stream closed with OK (EOF) after
// the last; the same sandboxes, and the same filter semantics, as ListPodSandbox.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ListPodSandboxResponse, PodSandbox } from '@crius/common/cri';
import { ok, pb, stream } from './helpers.js';
import { minimal, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const streamPods = (body: Buffer) => stream<{ podSandboxes: PodSandbox[] }>(env.client, 'StreamPodSandboxes', body);
const byId = (x: PodSandbox, y: PodSandbox) => x.id.localeCompare(y.id);

describe('StreamPodSandboxes', () => {
  it('minimal request (zero bytes) with no sandbox: no message, then OK', async () => {
    expect(await streamPods(Buffer.alloc(0))).toMatchObject({ code: status.OK, messages: [] });
  });

  it('minimal request: every sandbox exactly once, in non-empty lists, as ListPodSandbox has them', async () => {
    await runPod(env, { labels: { tier: 'web' } });
    await runPod(env, { labels: { tier: 'db' } });
    const stopped = await runMinimalPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(stopped.id));
    const r = await streamPods(Buffer.alloc(0));
    expect(r.code).toBe(status.OK);
    for (const m of r.messages) expect(m.podSandboxes.length).toBeGreaterThan(0);
    const streamed = r.messages.flatMap((m) => m.podSandboxes);
    expect(new Set(streamed.map((p) => p.id)).size).toBe(streamed.length);
    const listed = (await ok<ListPodSandboxResponse>(env.client, 'ListPodSandbox', Buffer.alloc(0))).items;
    expect(streamed.sort(byId)).toEqual(listed.sort(byId));
    expect(streamed).toHaveLength(3);
  });

  it('full request (a filter with every field) streams only what it matches; no match is no message and OK', async () => {
    const web = (await streamPods(pb.msg(1, pb.msg(2), pb.entry(3, 'tier', 'web')))).messages.flatMap((m) => m.podSandboxes);
    expect(web.map((p) => p.labels)).toEqual([{ tier: 'web' }]);
    const exact = await streamPods(pb.msg(1, pb.str(1, web[0]!.id), pb.msg(2), pb.entry(3, 'tier', 'web')));
    expect(exact.messages.flatMap((m) => m.podSandboxes).map((p) => p.id)).toEqual([web[0]!.id]);
    const none = await streamPods(pb.msg(1, pb.str(1, web[0]!.id), pb.msg(2, pb.int(1, 1))));
    expect(none).toMatchObject({ code: status.OK, messages: [] });
  });
});
