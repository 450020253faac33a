// Hostile and broken input at the CRI socket: each gets a gRPC error with the
// right code, and the gateway keeps serving afterwards.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import { useStack, type TestStack } from '../harness/stack.js';
import { callCri, methodInfo, pathOf, unaryBytes } from '../harness/raw-cri.js';

let s: TestStack;
let client: Client;

useStack((stack, c) => {
  s = stack;
  client = c;
});

async function stillServes(): Promise<void> {
  const r = await callCri(client, 'Version', { version: 'v1' });
  expect(r.ok).toBe(true);
}

describe('malformed input', () => {
  it('garbage bytes on the socket are dropped and the gateway keeps serving', async () => {
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(4096, 0xff), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04garbage')]) {
      await new Promise<void>((resolve) => {
        const sock = net.connect({ path: s.config.api.listen }, () => sock.end(junk));
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.resume();
      });
    }
    await stillServes();
  });

  it('bytes that are not the request message are INVALID_ARGUMENT naming the method', async () => {
    // Field 1 as a length-delimited value that runs past the end of the buffer.
    const r = await unaryBytes(client, pathOf(methodInfo('RunPodSandbox')), Buffer.from([0x0a, 0x7f, 0x01]));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(status.INVALID_ARGUMENT);
      expect(r.error.details).toMatch(/^RunPodSandbox: malformed request/);
    }
    await stillServes();
  });

  it.each([
    ['RunPodSandbox', { config: { metadata: { name: 'p', namespace: 'ns' } } }, 'config.metadata.uid is required'],
    ['CreateContainer', { podSandboxId: 'p', config: { metadata: { name: 'c' } } }, 'config.image.image is required'],
    ['StartContainer', {}, 'container_id is required'],
    ['PullImage', {}, 'image.image is required'],
    ['ExecSync', { containerId: 'c' }, 'cmd is required'],
    ['CheckpointPod', { path: '/tmp/out' }, 'pod_sandbox_id is required'],
    ['RestorePod', { options: { leave_running: 'true' } }, 'path is required'],
  ] as const)('%s with a missing required field is INVALID_ARGUMENT', async (method, req, message) => {
    const r = await callCri(client, method, req);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(status.INVALID_ARGUMENT);
      expect(r.error.details).toBe(`${method}: ${message}`);
    }
  });

  it('an over-large message is RESOURCE_EXHAUSTED and the gateway keeps serving', async () => {
    const big = 'x'.repeat(s.config.api.max_msg_size + 1024);
    const r = await callCri(client, 'RunPodSandbox', { config: { metadata: { name: 'p', namespace: 'n', uid: 'u' }, hostname: big } }, 10_000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(status.RESOURCE_EXHAUSTED);
    await stillServes();
  });

  it('an unknown method is UNIMPLEMENTED', async () => {
    const r = await unaryBytes(client, '/runtime.v1.RuntimeService/NoSuchMethod', Buffer.alloc(0));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(status.UNIMPLEMENTED);
  });
});
