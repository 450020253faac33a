// UpdateContainerResources against the api.proto contract: "updates ContainerConfig of the
// container synchronously" — the cgroup has the new limits when the call returns and
// ContainerStatus.resources reports them; linux (and windows) are optional, so a request with
// only container_id changes nothing and succeeds, as CRI-O and containerd answer; "If runtime
// fails to transactionally update the requested resources, an error is returned".
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState } from '@crius/common/cri';
import { failure, ok, pb } from './helpers.js';
import { cgroupFile, containerStatus, createContainer, minimal, runContainer, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const MiB = 1024n * 1024n;
const initial = { cpuShares: 512n, memoryLimitInBytes: 64n * MiB };
const withResources = { linux: { securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } }, resources: initial } };
const memoryLimit = (id: string) => cgroupFile(env, id, 'memory', 'memory.limit_in_bytes').then(BigInt);

describe('UpdateContainerResources', () => {
  it('minimal request (container_id only): nothing to change, no error, limits as they were', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'minimal', ['sleep', '3600'], withResources);
    await ok(env.client, 'UpdateContainerResources', minimal.id(id));
    expect(await memoryLimit(id)).toBe(64n * MiB);
    expect((await containerStatus(env, id)).status!.resources?.linux).toMatchObject(initial);
    // Windows resources only: nothing for a Linux container either.
    await ok(env.client, 'UpdateContainerResources', Buffer.concat([minimal.id(id), pb.msg(3, pb.int(4, 1 << 20))]));
    expect(await memoryLimit(id)).toBe(64n * MiB);
  });

  it('full request: the running container\'s cgroup has the new limits when it returns, and its status says so', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'full', ['sleep', '3600'], withResources);
    const linux = { cpuPeriod: 100000n, cpuQuota: 20000n, cpuShares: 256n, memoryLimitInBytes: 96n * MiB, cpusetCpus: '0', cpusetMems: '0', oomScoreAdj: 0n };
    await ok(env.client, 'UpdateContainerResources', { containerId: id, linux, windows: {}, annotations: { 'io.crius.test/resize': '1' } });
    expect(await memoryLimit(id)).toBe(96n * MiB);
    expect(await cgroupFile(env, id, 'cpu', 'cpu.shares')).toBe('256');
    expect(await cgroupFile(env, id, 'cpu', 'cpu.cfs_quota_us')).toBe('20000');
    expect(await cgroupFile(env, id, 'cpu', 'cpu.cfs_period_us')).toBe('100000');
    expect(await cgroupFile(env, id, 'cpuset', 'cpuset.cpus')).toBe('0');
    expect((await containerStatus(env, id)).status!.resources?.linux).toMatchObject({ cpuShares: 256n, memoryLimitInBytes: 96n * MiB, cpuQuota: 20000n, cpuPeriod: 100000n, cpusetCpus: '0' });
  });

  it('a created container: the update holds once it starts', async () => {
    const pod = await runPod(env);
    const id = await createContainer(env, pod, 'created', ['sleep', '3600'], withResources);
    await ok(env.client, 'UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: 80n * MiB } });
    await ok(env.client, 'StartContainer', minimal.id(id));
    expect(await memoryLimit(id)).toBe(80n * MiB);
    expect((await containerStatus(env, id)).status!.resources?.linux?.memoryLimitInBytes).toBe(80n * MiB);
  });

  it('an update the kernel refuses: an error, and neither the cgroup nor the status changed', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'refused', ['sleep', '3600'], withResources);
    const r = await failure(env.client, 'UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: 128n * MiB, cpusetCpus: '4095' } });
    // The OCI runtime's refusal, on one line, at once (not DEADLINE_EXCEEDED: runc's stderr has line breaks).
    expect(r.code).toBe(status.INTERNAL);
    expect(r.details).toContain('cpuset.cpus');
    expect(await memoryLimit(id)).toBe(64n * MiB);
    expect((await containerStatus(env, id)).status!.resources?.linux).toMatchObject(initial);
  });

  it('an exited container: FAILED_PRECONDITION (as CRI-O); unknown: NOT_FOUND; no container_id: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'exited', ['true']);
    await waitForState(env, id, ContainerState.CONTAINER_EXITED);
    const e = await failure(env.client, 'UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: 80n * MiB } });
    expect(e.code).toBe(status.FAILED_PRECONDITION);
    const u = await failure(env.client, 'UpdateContainerResources', minimal.id('f'.repeat(64)));
    expect(u.code).toBe(status.NOT_FOUND);
    expect(u.details).toContain('f'.repeat(64));
    const n = await failure(env.client, 'UpdateContainerResources', pb.msg(2, pb.int(4, 1 << 26)));
    expect(n.code).toBe(status.INVALID_ARGUMENT);
    expect(n.details).toContain('container_id is required');
  });
});
