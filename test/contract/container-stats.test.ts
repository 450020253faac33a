// ContainerStats against the api.proto contract: "If the container does not exist, the call
// returns an error"; attributes carry the container's metadata, labels and annotations
// ("MUST be identical"); cpu, memory and the writable layer each have a timestamp that "Must be
// > 0"; usage is cumulative; available = limit - working set.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { ContainerStatsResponse } from '@crius/common/cri';
import { failure, ok } from './helpers.js';
import { ODD_ANNOTATIONS, ODD_LABELS, createContainer, exec, minimal, nowNs, runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const statsOf = async (id: string) => (await ok<ContainerStatsResponse>(env.client, 'ContainerStats', minimal.id(id))).stats!;
const MiB = 1024n * 1024n;

describe('ContainerStats', () => {
  it('minimal request (container_id) on a running container: attributes, cpu, memory and writable layer, stamped now', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'busy', ['sleep', '3600'], {
      labels: ODD_LABELS,
      annotations: ODD_ANNOTATIONS,
      linux: { securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } }, resources: { memoryLimitInBytes: 128n * MiB } },
    });
    const before = nowNs();
    const s = await statsOf(id);
    expect(s.attributes).toEqual({ id, metadata: { name: 'busy', attempt: 0 }, labels: ODD_LABELS, annotations: ODD_ANNOTATIONS });
    for (const [what, ts] of [['cpu', s.cpu?.timestamp], ['memory', s.memory?.timestamp], ['writable_layer', s.writableLayer?.timestamp]] as const) {
      expect(ts, what).toBeGreaterThanOrEqual(before);
      expect(ts, what).toBeLessThanOrEqual(nowNs());
    }
    expect(s.cpu!.usageCoreNanoSeconds).toBeDefined();
    expect(s.memory!.workingSetBytes!.value).toBeGreaterThan(0n);
    expect(s.memory!.usageBytes!.value).toBeGreaterThanOrEqual(s.memory!.workingSetBytes!.value);
    expect(s.memory!.availableBytes!.value).toBe(128n * MiB - s.memory!.workingSetBytes!.value);
    expect(s.writableLayer!.fsId!.mountpoint).not.toBe('');
    expect(s.writableLayer!.usedBytes).toBeDefined();

    // Cumulative CPU: a busy exec moves it on; a second sample has a rate.
    await exec(env, id, 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done');
    const later = await statsOf(id);
    expect(later.cpu!.usageCoreNanoSeconds!.value).toBeGreaterThan(s.cpu!.usageCoreNanoSeconds!.value);
    expect(later.cpu!.timestamp).toBeGreaterThan(s.cpu!.timestamp);
    expect(later.cpu!.usageNanoCores).toBeDefined();
  });

  it('a created container (nothing running yet): its attributes, no error', async () => {
    const pod = await runPod(env);
    const id = await createContainer(env, pod, 'idle', ['sleep', '3600'], { labels: { tier: 'web' } });
    const s = await statsOf(id);
    expect(s.attributes).toMatchObject({ id, metadata: { name: 'idle', attempt: 0 }, labels: { tier: 'web' } });
  });

  it('a container that does not exist: NOT_FOUND naming it; no container_id: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await createContainer(env, pod, 'gone', ['true']);
    await ok(env.client, 'RemoveContainer', minimal.id(id));
    for (const gone of [id, 'f'.repeat(64)]) {
      const f = await failure(env.client, 'ContainerStats', minimal.id(gone));
      expect(f.code, gone).toBe(status.NOT_FOUND);
      expect(f.details, gone).toContain(gone);
    }
    const g = await failure(env.client, 'ContainerStats', Buffer.alloc(0));
    expect(g.code).toBe(status.INVALID_ARGUMENT);
    expect(g.details).toContain('container_id is required');
  });
});
