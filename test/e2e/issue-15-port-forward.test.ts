// Issue 15: PortForward worked only to 127.0.0.1, through busybox nc, and
// refused host-network pods. From the contract (kubelet's port-forward
// protocol, containerd's behaviour: dial localhost in the pod's netns, IPv4
// then IPv6; a host-network pod is dialed from the node): a server that
// listens only on ::1 or only on 127.0.0.1 is reached, in a pod whose image
// holds nothing but that server, and on the node's loopback for a
// host-network pod; a few MiB go both ways intact, with half-close; a port
// nobody listens on is reported on the error stream. Through the CRI socket
// and the streaming server (SPDY and WebSocket clients), real runc and CNI.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildEchoImage } from '../fixtures/echo-image.js';
import { pushImage } from '../fixtures/oci-image.js';
import { cri, containerConfig, podConfig, usePodStack, waitFor, type PodStack } from '../harness/pod.js';
import { SpdyTestClient } from '../../services/cri-gateway/src/streaming/testing/spdy-client.js';

let stack: PodStack;
usePodStack((s) => (stack = s));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PAYLOAD = randomBytes(4 * 1024 * 1024 + 123);
const NAMESPACE_NODE = 2;

/** `p`, or a named failure after 30 s (a lost half-close would otherwise hang the test). */
function within<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30_000)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** One SPDY port-forward connection: sends `payload`, half-closes, and collects what comes back until the server's FIN. */
async function forwardSpdy(podSandboxId: string, port: number, payload: Buffer): Promise<{ back: Buffer; error: string }> {
  const { url } = await cri<{ url: string }>(stack.client, 'PortForward', { podSandboxId, port: [port] });
  const c = await SpdyTestClient.connect(url, { protocols: ['portforward.k8s.io'], flowControl: true });
  try {
    const hdr = (t: string) => ({ streamtype: t, port: String(port), requestid: '0' });
    const error = c.openStream(hdr('error'));
    const data = c.openStream(hdr('data'));
    // Sent while reading: a failed forward takes no data, so its window never opens.
    void data.writeWithinWindow(payload).then(() => data.end());
    const back = await within('the forwarded connection to end (the server echoes until our half-close reaches it)', data.ended);
    return { back, error: (await error.ended).toString() };
  } finally {
    c.destroy();
  }
}

/** Retries until the server in the pod answers (containers start asynchronously). */
async function forwardWhenUp(podSandboxId: string, port: number, payload: Buffer) {
  return waitFor(`a listener on port ${port}`, async () => {
    const r = await forwardSpdy(podSandboxId, port, Buffer.from('ping'));
    return r.back.toString() === 'ping' ? true : undefined;
  }, 20_000).then(() => forwardSpdy(podSandboxId, port, payload));
}

/** An echo server on the host, on one loopback address only. */
async function hostEcho(host: string): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => sock.pipe(sock));
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}

describe('issue 15: port-forward from the runtime side', () => {
  let podId = '';
  let image = '';

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(stack.s.dir, 'echo-image-'));
    await pushImage(stack.reg.url, 'e2e/echo', '1', await buildEchoImage(dir));
    image = `${stack.reg.host}/e2e/echo:1`;
    await cri(stack.client, 'PullImage', { image: { image } });
  });
  afterAll(async () => {
    if (podId) await cri(stack.client, 'RemovePodSandbox', { podSandboxId: podId }).catch(() => undefined);
  });

  it('runs an image that holds nothing but the server: no shell, no busybox, no nc', async () => {
    const pod = await podConfig(stack.s.dir);
    podId = (await cri<{ podSandboxId: string }>(stack.client, 'RunPodSandbox', { config: pod })).podSandboxId;
    const start = async (name: string, args: string[]) => {
      const { containerId } = await cri<{ containerId: string }>(stack.client, 'CreateContainer', {
        podSandboxId: podId,
        config: { ...containerConfig(name, image, []), args },
        sandboxConfig: pod,
      });
      await cri(stack.client, 'StartContainer', { containerId });
      return containerId;
    };
    const v4 = await start('echo4', ['127.0.0.1', '7001']);
    await start('echo6', ['::1', '7002']);
    const st = await cri<{ info: Record<string, string> }>(stack.client, 'ContainerStatus', { containerId: v4, verbose: true });
    const rootfs = JSON.parse(st.info.info!).rootfs as string;
    // Only the server and what the runtime mounts over the rootfs.
    const top = await readdir(rootfs);
    expect(top).toContain('echo-server');
    for (const tool of ['bin', 'sbin', 'usr', 'lib']) expect(top).not.toContain(tool);
  });

  it('forwards to a server listening only on 127.0.0.1: 4 MiB both ways intact', async () => {
    const { back, error } = await forwardWhenUp(podId, 7001, PAYLOAD);
    expect(error).toBe('');
    expect(back.length).toBe(PAYLOAD.length);
    expect(sha(back)).toBe(sha(PAYLOAD));
  });

  it('forwards to a server listening only on ::1: 4 MiB both ways intact', async () => {
    const { back, error } = await forwardWhenUp(podId, 7002, PAYLOAD);
    expect(error).toBe('');
    expect(back.length).toBe(PAYLOAD.length);
    expect(sha(back)).toBe(sha(PAYLOAD));
  });

  it('forwards over WebSocket (v4.channel.k8s.io framing) to the ::1 server', async () => {
    const { url } = await cri<{ url: string }>(stack.client, 'PortForward', { podSandboxId: podId, port: [7002] });
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const data: Buffer[] = [];
    let first = true;
    let got = 0;
    const all = new Promise<void>((resolve, reject) => {
      ws.once('close', () => reject(new Error(`closed after ${got} bytes: ${data.length ? '' : 'nothing echoed'}`)));
      ws.on('message', (raw: Buffer) => {
        const m = Buffer.from(raw);
        if (m[0] !== 0) return;
        if (first) {
          first = false; // the port, uint16 little-endian
          expect(m.readUInt16LE(1)).toBe(7002);
          return;
        }
        data.push(m.subarray(1));
        got += m.length - 1;
        if (got >= PAYLOAD.length) resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (let off = 0; off < PAYLOAD.length; off += 32 * 1024) ws.send(Buffer.concat([Buffer.from([0]), PAYLOAD.subarray(off, off + 32 * 1024)]));
    await all;
    ws.close();
    expect(sha(Buffer.concat(data))).toBe(sha(PAYLOAD));
  });

  it('reports a port with no listener on either family on the error stream', async () => {
    const { back, error } = await forwardSpdy(podId, 7003, Buffer.from('x'));
    expect(back.length).toBe(0);
    expect(error).toMatch(/error forwarding port 7003 to pod .*127\.0\.0\.1: Connection refused; ::1: Connection refused/);
  });

  it('forwards to the node loopback for a host-network pod, IPv4 and IPv6', async () => {
    const pod = await podConfig(stack.s.dir, { linux: { securityContext: { namespaceOptions: { network: NAMESPACE_NODE } } } });
    const hostPod = (await cri<{ podSandboxId: string }>(stack.client, 'RunPodSandbox', { config: pod })).podSandboxId;
    try {
      for (const host of ['127.0.0.1', '::1']) {
        const srv = await hostEcho(host);
        try {
          const { back, error } = await forwardSpdy(hostPod, srv.port, PAYLOAD);
          expect(error).toBe('');
          expect(sha(back)).toBe(sha(PAYLOAD));
        } finally {
          await srv.close();
        }
      }
    } finally {
      await cri(stack.client, 'RemovePodSandbox', { podSandboxId: hostPod });
    }
  });
});
