// Attach against the api.proto contract: "prepares a streaming endpoint to attach to a running
// container" and returns the fully qualified URL; "One of stdin, stdout, and stderr MUST be
// true"; tty "must match the TTY setting in the ContainerConfig", and with tty stderr "MUST be
// false". The URL is used as kubectl does (SPDY, v4 channels).
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type AttachResponse } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { failure, ok, pb } from './helpers.js';
import { minimal, runContainer, runPod, spdySession, useRuntimeEnv, waitForState, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

/** AttachRequest by hand: container_id, then stdin 2, tty 3, stdout 4, stderr 5 as asked. */
const request = (id: string, flags: { stdin?: boolean; tty?: boolean; stdout?: boolean; stderr?: boolean } = {}) =>
  Buffer.concat([
    minimal.id(id),
    ...(flags.stdin ? [pb.bool(2, true)] : []),
    ...(flags.tty ? [pb.bool(3, true)] : []),
    ...(flags.stdout ? [pb.bool(4, true)] : []),
    ...(flags.stderr ? [pb.bool(5, true)] : []),
  ]);

describe('Attach', () => {
  it('minimal request (container_id, stdout): a fully qualified URL streaming what the container prints from then on', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'ticker', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done']);
    const { url } = await ok<AttachResponse>(env.client, 'Attach', request(id, { stdout: true }));
    expect(url.startsWith(`http://${env.s.config.api.streaming_address}/`)).toBe(true);
    const { c, streams } = await spdySession(url, { stdout: true });
    await waitFor('ticks through the attach', async () => ((streams.stdout!.text.match(/tick \d+\n/g)?.length ?? 0) >= 2 ? true : undefined), 15_000);
    c.destroy();
    // Detaching leaves the container running.
    expect((await waitForState(env, id, ContainerState.CONTAINER_RUNNING)).state).toBe(ContainerState.CONTAINER_RUNNING);
  });

  it('full request (stdin, tty as the container has it, stdout, audit_request_id): the container\'s terminal', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'shell', ['sh'], { stdin: true, tty: true });
    const body = Buffer.concat([request(id, { stdin: true, tty: true, stdout: true }), pb.str(6, 'audit-0002')]);
    const { url } = await ok<AttachResponse>(env.client, 'Attach', body);
    const { c, streams } = await spdySession(url, { stdin: true, stdout: true, resize: true });
    await waitFor('the shell to answer', async () => {
      if (streams.stdout!.text.includes('sum=42')) return true;
      streams.stdin!.write('echo "sum=$((40+2))"\n');
      await new Promise((r) => setTimeout(r, 300));
      return undefined;
    }, 15_000);
    expect(streams.stdout!.text).toContain('sum=42\r\n');
    c.destroy();
  });

  it('no stream asked for, or tty with stderr: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'target', ['sleep', '3600']);
    const none = await failure(env.client, 'Attach', request(id));
    expect(none.code).toBe(status.INVALID_ARGUMENT);
    expect(none.details).toContain('one of stdin, stdout and stderr');
    const ttyErr = await failure(env.client, 'Attach', request(id, { tty: true, stdout: true, stderr: true }));
    expect(ttyErr.code).toBe(status.INVALID_ARGUMENT);
  });

  it('a container that is not running: FAILED_PRECONDITION; unknown: NOT_FOUND; no id: INVALID_ARGUMENT', async () => {
    const pod = await runPod(env);
    const done = await runContainer(env, pod, 'done', ['true']);
    await waitForState(env, done, ContainerState.CONTAINER_EXITED);
    expect((await failure(env.client, 'Attach', request(done, { stdout: true }))).code).toBe(status.FAILED_PRECONDITION);
    expect((await failure(env.client, 'Attach', request('f'.repeat(64), { stdout: true }))).code).toBe(status.NOT_FOUND);
    const noId = await failure(env.client, 'Attach', pb.bool(4, true));
    expect(noId.code).toBe(status.INVALID_ARGUMENT);
    expect(noId.details).toContain('container_id is required');
  });
});
