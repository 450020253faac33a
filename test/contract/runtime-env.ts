// RuntimeService contract tests: one real stack per test file (loopback registry, the fixture
// image pulled, real runc/crun, conmon, CNI), minimal requests hand-encoded with exactly the
// fields api.proto requires, full ones built from the generated types, and the host facts a
// test checks replies against (processes, mounts, cgroups). Shares the wire of helpers.ts.
import { randomBytes } from 'node:crypto';
import { readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import { cgroupHierarchies } from '@crius/common';
import { ContainerState, type ContainerStatusResponse, type PodSandboxStatusResponse } from '@crius/common/cri';
import { rawClient } from '../harness/raw-cri.js';
import { startStack, type TestStack } from '../harness/stack.js';
import { containerConfig, podConfig, waitFor } from '../harness/pod.js';
import { buildImage, etcEntries, pushImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { SpdyTestClient, type ClientStream } from '../../services/cri-gateway/src/streaming/testing/spdy-client.js';
import { ok, pb } from './helpers.js';

export interface RuntimeEnv {
  reg: RunningRegistry;
  s: TestStack;
  client: Client;
  /** `contract/sleeper:1`, pulled: CMD `sleep 3600`, /etc/group has `wheel:x:10:root`. */
  image: string;
  /** PullImage's image_ref for it: what every image_id of its containers must be. */
  imageId: string;
  ref(repoTag: string): string;
}

/** The group the fixture image's /etc/group gives root besides its primary group. */
export const IMAGE_GROUP = 10;

/** Started before the file's tests, stopped (every pod removed) after them. */
export function useRuntimeEnv(use: (env: RuntimeEnv) => void): void {
  let env: RuntimeEnv | undefined;
  beforeAll(async () => {
    const reg = await startRegistry();
    try {
      const groups = etcEntries().map((e) => (e.path === 'etc/group' ? { ...e, content: 'root:x:0:\nwheel:x:10:root\napp:x:1000:\n' } : e));
      await pushImage(reg.url, 'contract/sleeper', '1', await buildImage({ cmd: ['sleep', '3600'], env: ['FROM_IMAGE=yes'], extraLayers: [groups] }));
      const s = await startStack();
      const client = rawClient(s.config.api.listen);
      const image = `${reg.host}/contract/sleeper:1`;
      const { imageRef } = await ok<{ imageRef: string }>(client, 'PullImage', { image: { image } });
      env = { reg, s, client, image, imageId: imageRef, ref: (repoTag) => `${reg.host}/${repoTag}` };
      use(env);
    } catch (err) {
      await reg.stop();
      throw err;
    }
  });
  afterAll(async () => {
    env?.client.close();
    await env?.s.stop();
    await env?.reg.stop();
    // Pods of minimal requests name no cgroup_parent: crius's default one, left empty now.
    for (const root of await cgroupHierarchies()) await rmdir(path.join(root, 'crius')).catch(() => undefined);
  });
}

export interface PodMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

let seq = 0;
export function podMetadata(prefix = 'pod'): PodMetadata {
  return { name: `${prefix}-${++seq}`, uid: randomBytes(8).toString('hex'), namespace: 'contract' };
}

/** Hand-encoded requests with only the fields the api.proto comments make required. */
export const minimal = {
  /** RunPodSandboxRequest { config { metadata { name, uid, namespace } } }. */
  runPodSandbox(md: PodMetadata): Buffer {
    return pb.msg(1, pb.msg(1, pb.str(1, md.name), pb.str(2, md.uid), pb.str(3, md.namespace)));
  },
  /** CreateContainerRequest { pod_sandbox_id, config { metadata { name }, image { image } } }: no sandbox_config. */
  createContainer(podId: string, name: string, image: string): Buffer {
    return Buffer.concat([pb.str(1, podId), pb.msg(2, pb.msg(1, pb.str(1, name)), pb.msg(2, pb.str(1, image)))]);
  },
  /** A request whose only field is the id in field 1 (pod_sandbox_id or container_id). */
  id(id: string): Buffer {
    return pb.str(1, id);
  },
};

export type PodConfig = Awaited<ReturnType<typeof podConfig>>;
export interface Pod {
  id: string;
  config: PodConfig;
}

export async function runMinimalPod(env: RuntimeEnv, md = podMetadata()): Promise<{ id: string; metadata: PodMetadata }> {
  const { podSandboxId } = await ok<{ podSandboxId: string }>(env.client, 'RunPodSandbox', minimal.runPodSandbox(md));
  return { id: podSandboxId, metadata: md };
}

/** A pod as kubelet sends it (log directory and cgroup parent in the stack's private places). */
export async function runPod(env: RuntimeEnv, extra: Record<string, unknown> = {}, runtimeHandler = ''): Promise<Pod> {
  const config = await podConfig(env.s.dir, extra);
  const { podSandboxId } = await ok<{ podSandboxId: string }>(env.client, 'RunPodSandbox', { config, runtimeHandler });
  return { id: podSandboxId, config };
}

export const CONTAINER_PID_NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };

/** Create (not start) a container of the fixture image in `pod`, kubelet-shaped. */
export async function createContainer(env: RuntimeEnv, pod: Pod, name: string, command?: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const config = containerConfig(name, env.image, command ?? [], { linux: { securityContext: CONTAINER_PID_NS }, ...extra });
  const { containerId } = await ok<{ containerId: string }>(env.client, 'CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
  return containerId;
}

export async function runContainer(env: RuntimeEnv, pod: Pod, name: string, command?: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const id = await createContainer(env, pod, name, command, extra);
  await ok(env.client, 'StartContainer', minimal.id(id));
  return id;
}

export async function exec(env: RuntimeEnv, containerId: string, script: string): Promise<{ out: string; err: string; code: number }> {
  const r = await ok<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(env.client, 'ExecSync', { containerId, cmd: ['sh', '-c', script], timeout: 30 });
  return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exitCode };
}

export const containerStatus = (env: RuntimeEnv, id: string, verbose = false) =>
  ok<ContainerStatusResponse>(env.client, 'ContainerStatus', { containerId: id, verbose });
export const sandboxStatus = (env: RuntimeEnv, id: string, verbose = false) =>
  ok<PodSandboxStatusResponse>(env.client, 'PodSandboxStatus', { podSandboxId: id, verbose });

export async function waitForState(env: RuntimeEnv, id: string, state: ContainerState, timeoutMs = 20_000) {
  return waitFor(`container ${id} in state ${ContainerState[state]}`, async () => {
    const s = (await containerStatus(env, id)).status!;
    return s.state === state ? s : undefined;
  }, timeoutMs);
}

/** The container's init PID on the host, from its verbose status. */
export async function containerPid(env: RuntimeEnv, id: string): Promise<number> {
  const info = (await containerStatus(env, id, true)).info;
  return (JSON.parse(info.info!) as { pid: number }).pid;
}

/** A live process (not gone, not a zombie waiting for its reaper). */
export async function processAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** The process's cgroup path in a v1 controller's hierarchy (from /proc/<pid>/cgroup). */
export async function cgroupOf(pid: number, controller = 'memory'): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  const line = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`process ${pid} has no ${controller} cgroup: ${lines.join('; ')}`);
  return line.split(':').slice(2).join(':');
}

/** A v1 cgroup file of the container's init process, trimmed (e.g. ('cpu', 'cpu.shares')). */
export async function cgroupFile(env: RuntimeEnv, containerId: string, controller: string, file: string): Promise<string> {
  const pid = await containerPid(env, containerId);
  for (const root of await cgroupHierarchies()) {
    const text = await readFile(path.join(root, await cgroupOf(pid, controller), file), 'utf8').catch(() => undefined);
    if (text !== undefined) return text.trim();
  }
  throw new Error(`no ${file} for container ${containerId}`);
}

export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/** Labels and annotations with the awkward keys and values a kubelet passes through unchanged. */
export const ODD_LABELS = { app: 'contract', 'example.com/tier': 'back-end', empty: '' };
export const ODD_ANNOTATIONS = {
  'kubernetes.io/config.source': 'api',
  'io.crius.test/json': '{"a":[1,2],"b":"ü ✓"}',
  'io.crius.test/newline': 'line1\nline2',
  'io.crius.test/empty': '',
};

/** kubectl's SPDY exec/attach session on a streaming URL: the error stream and the ones asked for. */
export async function spdySession(url: string, want: { stdin?: boolean; stdout?: boolean; stderr?: boolean; resize?: boolean }) {
  const c = await SpdyTestClient.connect(url, { protocols: ['v4.channel.k8s.io'] });
  const streams: Record<string, ClientStream> = { error: c.openStream({ streamtype: 'error' }) };
  for (const t of ['stdin', 'stdout', 'stderr', 'resize'] as const) if (want[t]) streams[t] = c.openStream({ streamtype: t });
  await Promise.all([...c.streams.values()].map((st) => st.replied));
  return { c, streams };
}
