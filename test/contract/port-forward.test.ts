// PortForward against the api.proto contract: "prepares a streaming endpoint to forward ports
// from a PodSandbox" and returns the fully qualified URL. The minimal request names only the
// pod (kubectl sends the ports with each stream); a full one names ports too. One request is
// forwarded for real (kubectl's SPDY portforward protocol) to an httpd in the pod. How the
// forward reaches into the pod (IPv6, host network, no tools in the image) is issue 15's
// port-forward work and tested there.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { PortForwardResponse } from '@crius/common/cri';
import { SpdyTestClient } from '../../services/cri-gateway/src/streaming/testing/spdy-client.js';
import { failure, ok, pb } from './helpers.js';
import { minimal, runContainer, runMinimalPod, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const ports = (...p: number[]) => pb.packed(2, p);

describe('PortForward', () => {
  it('minimal request (pod_sandbox_id): a fully qualified URL that forwards to a port in the pod', async () => {
    const www = path.join(env.s.dir, 'www');
    await mkdir(www, { recursive: true });
    await writeFile(path.join(www, 'index.html'), 'served-from-the-pod\n');
    const pod = await runPod(env);
    await runContainer(env, pod, 'httpd', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], { mounts: [{ containerPath: '/www', hostPath: www, readonly: true }] });
    const { url } = await ok<PortForwardResponse>(env.client, 'PortForward', minimal.id(pod.id));
    expect(url.startsWith(`http://${env.s.config.api.streaming_address}/`)).toBe(true);
    expect(() => new URL(url)).not.toThrow();
    // httpd may still be starting: ask again (new URL each time) until it answers.
    let response = '';
    for (let i = 0; i < 50 && !response.includes('served-from-the-pod'); i++) {
      const { url: u } = await ok<PortForwardResponse>(env.client, 'PortForward', minimal.id(pod.id));
      const c = await SpdyTestClient.connect(u, { protocols: ['portforward.k8s.io'] });
      const hdr = (t: string) => ({ streamtype: t, port: '8080', requestid: '0' });
      c.openStream(hdr('error'));
      const data = c.openStream(hdr('data'));
      data.write('GET /index.html HTTP/1.0\r\n\r\n');
      response = (await data.ended).toString();
      c.destroy();
      if (!response) await new Promise((r) => setTimeout(r, 200));
    }
    expect(response).toContain('served-from-the-pod');
  });

  it('full request (ports): a URL for them', async () => {
    const { id } = await runMinimalPod(env);
    const { url } = await ok<PortForwardResponse>(env.client, 'PortForward', Buffer.concat([minimal.id(id), ports(80, 8080)]));
    expect(url.startsWith(`http://${env.s.config.api.streaming_address}/`)).toBe(true);
  });

  it('a port outside 1-65535: INVALID_ARGUMENT naming it; no pod id: INVALID_ARGUMENT', async () => {
    const { id } = await runMinimalPod(env);
    for (const bad of [0, 70000]) {
      const f = await failure(env.client, 'PortForward', { podSandboxId: id, port: [80, bad] });
      expect(f.code, String(bad)).toBe(status.INVALID_ARGUMENT);
      expect(f.details, String(bad)).toContain(String(bad));
    }
    const noId = await failure(env.client, 'PortForward', ports(80));
    expect(noId.code).toBe(status.INVALID_ARGUMENT);
    expect(noId.details).toContain('pod_sandbox_id is required');
  });

  it('a stopped pod: FAILED_PRECONDITION; an unknown one: NOT_FOUND', async () => {
    const { id } = await runMinimalPod(env);
    await ok(env.client, 'StopPodSandbox', minimal.id(id));
    const f = await failure(env.client, 'PortForward', minimal.id(id));
    expect(f.code).toBe(status.FAILED_PRECONDITION);
    expect(f.details).toContain('not ready');
    expect((await failure(env.client, 'PortForward', minimal.id('f'.repeat(64)))).code).toBe(status.NOT_FOUND);
  });
});
