// Exec against the api.proto contract: "prepares a streaming endpoint" and returns the "fully
// qualified URL of the exec streaming server"; "One of stdin, stdout, and stderr MUST be true";
// with tty, stderr "MUST be false". The URL is then used as kubectl does (SPDY, v4 channels).
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type ExecResponse } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { failure, ok, pb } from './helpers.js';
import { minimal, runContainer, runMinimalPod, runPod, spdySession, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

/** ExecRequest by hand: container_id, cmd, then the flags asked for (tty 3, stdin 4, stdout 5, stderr 6). */
const request = (id: string, cmd: string[], flags: { tty?: boolean; stdin?: boolean; stdout?: boolean; stderr?: boolean } = {}) =>
  Buffer.concat([
    minimal.id(id),
    ...cmd.map((c) => pb.str(2, c)),
    ...(flags.tty ? [pb.bool(3, true)] : []),
    ...(flags.stdin ? [pb.bool(4, true)] : []),
    ...(flags.stdout ? [pb.bool(5, true)] : []),
    ...(flags.stderr ? [pb.bool(6, true)] : []),
  ]);

const baseUrl = () => `http://${env.s.config.api.streaming_address}/`;

describe('Exec', () => {
  it('minimal request (container_id, cmd, stdout): a fully qualified URL whose session runs the command', async () => {
    const { id: podId } = await runMinimalPod(env);
    const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(podId, 'target', env.image));
    await ok(env.client, 'StartContainer', minimal.id(containerId));
    const { url } = await ok<ExecResponse>(env.client, 'Exec', request(containerId, ['sh', '-c', 'echo hello-$FROM_IMAGE'], { stdout: true }));
    expect(url.startsWith(baseUrl())).toBe(true);
    expect(() => new URL(url)).not.toThrow();
    const { c, streams } = await spdySession(url, { stdout: true });
    expect((await streams.stdout!.ended).toString()).toBe('hello-yes\n');
    expect(JSON.parse((await streams.error!.ended).toString())).toMatchObject({ status: 'Success' });
    c.destroy();
  });

  it('full request (tty, stdin, stdout, audit_request_id): a terminal session fed from stdin', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'target', ['sleep', '3600']);
    const body = Buffer.concat([request(id, ['sh'], { tty: true, stdin: true, stdout: true }), pb.str(7, 'audit-0001')]);
    const { url } = await ok<ExecResponse>(env.client, 'Exec', body);
    expect(url.startsWith(baseUrl())).toBe(true);
    const { c, streams } = await spdySession(url, { stdin: true, stdout: true, resize: true });
    streams.stdin!.write('tty; echo "sum=$((40+2))"; exit 4\n');
    await waitFor('the exit status', async () => (streams.error!.finished ? true : undefined), 15_000);
    const out = streams.stdout!.text;
    expect(out).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(out).toContain('sum=42\r\n');
    expect(JSON.parse((await streams.error!.ended).toString())).toMatchObject({ status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: '4' }] } });
    c.destroy();
  });

  it('no stream asked for, or tty with stderr, or no cmd: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'target', ['sleep', '3600']);
    const none = await failure(env.client, 'Exec', request(id, ['true']));
    expect(none.code).toBe(status.INVALID_ARGUMENT);
    expect(none.details).toContain('one of stdin, stdout and stderr');
    const ttyErr = await failure(env.client, 'Exec', request(id, ['true'], { tty: true, stdout: true, stderr: true }));
    expect(ttyErr.code).toBe(status.INVALID_ARGUMENT);
    expect(ttyErr.details).toContain('tty');
    const noCmd = await failure(env.client, 'Exec', Buffer.concat([minimal.id(id), pb.bool(5, true)]));
    expect(noCmd.code).toBe(status.INVALID_ARGUMENT);
    expect(noCmd.details).toContain('cmd is required');
  });

  it('a container that is not running: FAILED_PRECONDITION; unknown: NOT_FOUND', async () => {
    const pod = await runPod(env);
    const done = await runContainer(env, pod, 'done', ['true']);
    await waitForState(env, done, ContainerState.CONTAINER_EXITED);
    const f = await failure(env.client, 'Exec', request(done, ['true'], { stdout: true }));
    expect(f.code).toBe(status.FAILED_PRECONDITION);
    expect(f.details).toContain('not running');
    const u = await failure(env.client, 'Exec', request('f'.repeat(64), ['true'], { stdout: true }));
    expect(u.code).toBe(status.NOT_FOUND);
  });
});
