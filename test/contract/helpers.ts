// ImageService contract tests: shared setup and a raw wire. Requests are either hand-encoded
// protobuf bytes (a minimal request is exactly the fields api.proto requires, nothing else) or
// full messages with every field the comments define; replies are decoded with the generated
// CRI types. A real docker-registry on 127.0.0.1 serves the fixture images, a real stack
// answers on its CRI socket.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { status as grpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import type { CriMethod } from '@crius/common';
import type { FilesystemUsage, Image, ImageFsInfoResponse } from '@crius/common/cri';
import { codecs, methodInfo, pathOf, rawClient, unaryBytes } from '../harness/raw-cri.js';
import { startStack, type TestStack } from '../harness/stack.js';
import { cri, podConfig } from '../harness/pod.js';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';

/** Hand-made protobuf: length-delimited fields and varints, so a test sends exactly these bytes. */
export const pb = {
  str(field: number, value: string | Buffer): Buffer {
    const body = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
  },
  msg(field: number, ...parts: Buffer[]): Buffer {
    return pb.str(field, Buffer.concat(parts));
  },
  bool(field: number, value: boolean): Buffer {
    return Buffer.concat([varint(field << 3), varint(value ? 1 : 0)]);
  },
  /** A varint field (int32/int64/uint32/enum) with a non-negative value; 0 is written, not omitted. */
  int(field: number, value: number): Buffer {
    return Buffer.concat([varint(field << 3), varint(value)]);
  },
  /** A packed repeated varint field (e.g. `repeated int32 port`). */
  packed(field: number, values: number[]): Buffer {
    return pb.str(field, Buffer.concat(values.map(varint)));
  },
  /** One `map<string, string>` entry as field `field`. */
  entry(field: number, key: string, value: string): Buffer {
    return pb.msg(field, pb.str(1, key), pb.str(2, value));
  },
};

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** `ImageSpec { image }` as field `field` of the request: the one field most image RPCs require. */
export function onlyImage(image: string, field = 1): Buffer {
  return pb.msg(field, pb.str(1, image));
}

export type Reply<T> = { ok: true; reply: T } | { ok: false; error: ServiceError };

/** One unary call: raw bytes as given, or a partial message encoded with the generated codec. */
export async function call<T>(client: Client, method: CriMethod, request: Buffer | object, timeoutMs = 60_000): Promise<Reply<T>> {
  const { req, res } = codecs(method);
  const body = Buffer.isBuffer(request) ? request : Buffer.from(req.encode(req.fromPartial(request)).finish());
  const r = await unaryBytes(client, pathOf(methodInfo(method)), body, timeoutMs);
  return r.ok ? { ok: true, reply: res.decode(r.reply) as T } : r;
}

export async function ok<T>(client: Client, method: CriMethod, request: Buffer | object, timeoutMs?: number): Promise<T> {
  const r = await call<T>(client, method, request, timeoutMs);
  if (!r.ok) throw Object.assign(new Error(`${method}: ${grpcStatus[r.error.code]} ${r.error.details}`), { code: r.error.code });
  return r.reply;
}

/** The gRPC code and message of a call that must fail. */
export async function failure(client: Client, method: CriMethod, request: Buffer | object): Promise<{ code: number; details: string }> {
  const r = await call(client, method, request);
  if (r.ok) throw new Error(`${method} succeeded: ${JSON.stringify(r.reply, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return { code: r.error.code, details: r.error.details };
}

/** A server-streaming call: every message, then how the stream ended. */
export function stream<T>(client: Client, method: CriMethod, body: Buffer, timeoutMs = 30_000): Promise<{ messages: T[]; code: number; details: string }> {
  const { res } = codecs(method);
  return new Promise((resolve) => {
    const messages: T[] = [];
    const s = client.makeServerStreamRequest(pathOf(methodInfo(method)), (b: Buffer) => b, (b: Buffer) => res.decode(b) as T, body, {
      deadline: new Date(Date.now() + timeoutMs),
    });
    s.on('data', (m: T) => messages.push(m));
    s.on('error', () => undefined); // the status event carries the outcome
    s.on('status', (st: { code: number; details: string }) => resolve({ messages, code: st.code, details: st.details }));
  });
}

/** What a stack with the fixture images pushed (not pulled) gives a contract test. */
export interface ContractEnv {
  reg: RunningRegistry;
  s: TestStack;
  client: Client;
  /** User `1000:1000` (numeric: Image.uid), manifest annotations, a 1 MiB incompressible file /data/blob. */
  numeric: OciImage;
  /** User `app` (a name: Image.username). */
  named: OciImage;
  /** Manifest digests the registry serves each tag under. */
  digests: { numeric: string; named: string };
  /** `<registry>/<repo>:<tag>` on the test registry. */
  ref(repoTag: string): string;
}

export const BLOB_BYTES = 1 << 20;
export const ANNOTATIONS = { 'org.opencontainers.image.title': 'contract-fixture', 'io.crius.test': 'yes' };

/**
 * The fixture images: `contract/numeric:1` (also under `another/numeric:latest`, the same image in
 * another repository) and `contract/named:1`. The registry and stack live for the test file.
 */
export function useContractEnv(use: (env: ContractEnv) => void, opts: { registryAuth?: { username: string; password: string } } = {}): void {
  let env: ContractEnv | undefined;
  beforeAll(async () => {
    const reg = await startRegistry(opts.registryAuth ? { auth: opts.registryAuth } : {});
    try {
      const numeric = await buildImage({
        user: '1000:1000', cmd: ['sh'], annotations: ANNOTATIONS,
        extraLayers: [[{ path: 'data/' }, { path: 'data/blob', content: randomBytes(BLOB_BYTES) }]],
      });
      const named = await buildImage({ user: 'app', cmd: ['sh'], labels: { fixture: 'named' } });
      const push = { auth: opts.registryAuth };
      const digests = {
        numeric: await pushImage(reg.url, 'contract/numeric', '1', numeric, push),
        named: await pushImage(reg.url, 'contract/named', '1', named, push),
      };
      await pushImage(reg.url, 'another/numeric', 'latest', numeric, push);
      const s = await startStack();
      const client = rawClient(s.config.api.listen);
      env = { reg, s, client, numeric, named, digests, ref: (repoTag) => `${reg.host}/${repoTag}` };
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
  });
}

export async function listImages(client: Client): Promise<Image[]> {
  return (await ok<{ images: Image[] }>(client, 'ListImages', Buffer.alloc(0))).images;
}

export async function imageFsInfo(client: Client): Promise<ImageFsInfoResponse> {
  return ok<ImageFsInfoResponse>(client, 'ImageFsInfo', Buffer.alloc(0));
}

export const used = (fs: FilesystemUsage[]): bigint => fs.reduce((n, f) => n + (f.usedBytes?.value ?? 0n), 0n);
export const inodes = (fs: FilesystemUsage[]): bigint => fs.reduce((n, f) => n + (f.inodesUsed?.value ?? 0n), 0n);

/** Mount points of this machine, as FilesystemIdentifier.mountpoint must name one. */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[4]!.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))));
}

/** Bytes the image's files take once unpacked (busybox binary, /data/blob, small files aside). */
export async function knownUnpackedBytes(image: 'numeric' | 'named'): Promise<number> {
  const busybox = (await stat('/bin/busybox')).size;
  return image === 'numeric' ? busybox + BLOB_BYTES : busybox;
}

/** Bytes of the image's blobs in the content store (manifest, config, compressed layers). */
export function blobBytes(image: OciImage): number {
  return image.manifest.size + image.config.size + image.layers.reduce((n, l) => n + l.size, 0);
}

/** A host-network pod (no CNI needed) and a running container of `image` sleeping in it. */
export async function runSleeper(env: ContractEnv, image: string, name: string): Promise<{ podId: string; containerId: string }> {
  const pod = await podConfig(env.s.dir, { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1, ipc: 0 } } } });
  const { podSandboxId: podId } = await cri<{ podSandboxId: string }>(env.client, 'RunPodSandbox', { config: pod });
  const { containerId } = await cri<{ containerId: string }>(env.client, 'CreateContainer', {
    podSandboxId: podId,
    config: { metadata: { name, attempt: 0 }, image: { image }, command: ['sleep', '3600'], logPath: `${name}/0.log`, linux: { securityContext: {} } },
    sandboxConfig: pod,
  });
  await cri(env.client, 'StartContainer', { containerId });
  return { podId, containerId };
}
