// ExecSync against the api.proto contract: the minimal request (container_id, cmd; timeout 0 =
// "run forever") returns the command's stdout, stderr and exit code; output beyond the cap
// "should be discarded, and the command should proceed with no error" (CVE-2022-1708) — and the
// reply must still reach a kubelet, whose gRPC limit is 16 MiB. (The timeout is issue 15's
// ExecSync-timeout work and tested there.)
import { Client, credentials } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type ExecSyncResponse } from '@crius/common/cri';
import { call, failure, ok, pb } from './helpers.js';
import { containerPid, minimal, processAlive, runContainer, runMinimalPod, runPod, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const MiB = 1024 * 1024;
const KUBELET_MAX_MSG = 16 * MiB;
const text = (b: Uint8Array) => Buffer.from(b).toString();
/** ExecSyncRequest { container_id, cmd... [, timeout] } by hand. */
const request = (id: string, cmd: string[], timeout?: number) => Buffer.concat([minimal.id(id), ...cmd.map((c) => pb.str(2, c)), ...(timeout === undefined ? [] : [pb.int(3, timeout)])]);

describe('ExecSync', () => {
  it('minimal request (container_id, cmd; no timeout): stdout, empty stderr, exit code 0', async () => {
    const { id: podId } = await runMinimalPod(env);
    const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(podId, 'target', env.image));
    await ok(env.client, 'StartContainer', minimal.id(containerId));
    const r = await ok<ExecSyncResponse>(env.client, 'ExecSync', request(containerId, ['echo', 'hello']));
    expect(text(r.stdout)).toBe('hello\n');
    expect(text(r.stderr)).toBe('');
    expect(r.exitCode).toBe(0);
    // The command runs in the container: its environment and its PID namespace's view.
    const env_ = await ok<ExecSyncResponse>(env.client, 'ExecSync', request(containerId, ['sh', '-c', 'echo $FROM_IMAGE; tr "\\0" " " < /proc/1/cmdline']));
    expect(text(env_.stdout)).toBe('yes\nsleep 3600 ');
  });

  it('full request (a timeout): stdout and stderr apart, the exit code, stdin closed', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'target', ['sleep', '3600']);
    const r = await ok<ExecSyncResponse>(env.client, 'ExecSync', request(id, ['sh', '-c', 'echo out; echo err >&2; cat; exit 3'], 30));
    expect(text(r.stdout)).toBe('out\n');
    expect(text(r.stderr)).toBe('err\n');
    expect(r.exitCode).toBe(3);
    // The container is untouched by its exec.
    expect(await processAlive(await containerPid(env, id))).toBe(true);
  });

  it('output beyond the cap is discarded: no error, exit code 0, and the reply fits a kubelet\'s 16 MiB', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'chatty', ['sleep', '3600']);
    const kubelet = new Client(`unix://${env.s.config.api.listen}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': KUBELET_MAX_MSG });
    try {
      for (const script of ['head -c 17825792 /dev/zero', 'head -c 17825792 /dev/zero; head -c 17825792 /dev/zero >&2; exit 0']) {
        const r = await call<ExecSyncResponse>(kubelet, 'ExecSync', request(id, ['sh', '-c', script], 60), 120_000);
        if (!r.ok) throw new Error(`${script}: ${r.error.details}`);
        const out = Buffer.from(r.reply.stdout);
        expect(r.reply.exitCode, script).toBe(0);
        expect(out.length, script).toBeGreaterThan(MiB);
        expect(out.length, script).toBeLessThanOrEqual(16 * MiB);
        expect(out.every((b) => b === 0), script).toBe(true);
        expect(out.length + r.reply.stderr.length, script).toBeLessThan(KUBELET_MAX_MSG);
      }
    } finally {
      kubelet.close();
    }
  });

  it('a container that is not running: FAILED_PRECONDITION; unknown: NOT_FOUND; no id or no cmd: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'done', ['true']);
    await waitForState(env, id, ContainerState.CONTAINER_EXITED);
    expect((await failure(env.client, 'ExecSync', request(id, ['true']))).code).toBe(status.FAILED_PRECONDITION);
    const u = await failure(env.client, 'ExecSync', request('f'.repeat(64), ['true']));
    expect(u.code).toBe(status.NOT_FOUND);
    expect(u.details).toContain('f'.repeat(64));
    const noId = await failure(env.client, 'ExecSync', pb.str(2, 'true'));
    expect(noId.code).toBe(status.INVALID_ARGUMENT);
    expect(noId.details).toContain('container_id is required');
    const noCmd = await failure(env.client, 'ExecSync', minimal.id(id));
    expect(noCmd.code).toBe(status.INVALID_ARGUMENT);
    expect(noCmd.details).toContain('cmd is required');
  });
});
