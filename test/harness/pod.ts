// Kubelet-shaped helpers for e2e tests: CRI calls that throw on error, and
// pod/container configs in the shapes kubelet sends.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import type { CriMethod } from '@crius/common';
import { callCri, rawClient } from './raw-cri.js';
import { startStack, type TestStack } from './stack.js';
import { buildImage, pushImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';

export async function cri<T = Record<string, unknown>>(client: Client, method: CriMethod, req: object, timeoutMs = 60_000): Promise<T> {
  const r = await callCri(client, method, req, timeoutMs);
  if (!r.ok) throw Object.assign(new Error(`${method}: ${r.error.details}`), { code: r.error.code });
  return r.reply as T;
}

let podSeq = 0;

/** A pod config whose logs and cgroups live in the test stack's private places. */
export async function podConfig(stackDir: string, extra: Record<string, unknown> = {}) {
  const n = ++podSeq;
  const logDirectory = path.join(stackDir, 'pods', `pod${n}`);
  await mkdir(logDirectory, { recursive: true });
  return {
    metadata: { name: `pod${n}`, namespace: 'e2e', uid: `uid-${process.pid}-${n}-${Date.now()}`, attempt: 0 },
    hostname: `pod${n}`,
    logDirectory,
    dnsConfig: { servers: ['10.96.0.10'], searches: ['e2e.svc.cluster.local'], options: ['ndots:5'] },
    labels: { app: `pod${n}` },
    ...extra,
    // Merged, not replaced: a test's linux settings keep the private cgroup parent.
    linux: { cgroupParent: testCgroupParent(stackDir), ...(extra.linux as object | undefined) },
  };
}

export function containerConfig(name: string, image: string, command: string[], extra: Record<string, unknown> = {}) {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    logPath: `${name}/0.log`,
    labels: { container: name },
    linux: { securityContext: {} },
    ...extra,
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The cgroup parent of a test stack's pods, removed by the harness afterwards. */
export function testCgroupParent(stackDir: string): string {
  return `/crius-e2e-${path.basename(stackDir)}`;
}

/** A stack with a loopback registry and the busybox test image already pulled: what pod tests start from. */
export interface PodStack {
  reg: RunningRegistry;
  s: TestStack;
  client: Client;
  /** The pulled image's reference. */
  image: string;
  stop(): Promise<void>;
}

/** `extraToml` is appended to the stack's config (e.g. a [runtime] table). */
export async function startPodStack(extraToml = ''): Promise<PodStack> {
  const reg = await startRegistry();
  try {
    await pushImage(reg.url, 'e2e/busybox', '1', await buildImage({ cmd: ['sh'] }));
    const image = `${reg.host}/e2e/busybox:1`;
    const s = await startStack(extraToml);
    const client = rawClient(s.config.api.listen);
    await cri(client, 'PullImage', { image: { image } });
    return {
      reg,
      s,
      client,
      image,
      async stop() {
        client.close();
        await s.stop();
        await reg.stop();
      },
    };
  } catch (err) {
    await reg.stop();
    throw err;
  }
}

/** A PodStack for this test file: started before its tests (handed to `use`), stopped after them. */
export function usePodStack(use: (stack: PodStack) => void, extraToml: string | (() => Promise<string>) = ''): void {
  let stack: PodStack | undefined;
  beforeAll(async () => {
    stack = await startPodStack(typeof extraToml === 'string' ? extraToml : await extraToml());
    use(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });
}
