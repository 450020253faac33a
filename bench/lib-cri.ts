// bench/lib-cri: a small CRI v1 driver for any runtime endpoint (crius,
// containerd, ...) over a unix socket, built on the generated grpc-js clients.
// Every call is timed and the time recorded under the RPC's name.
import { credentials, type CallOptions, type ClientUnaryCall, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { Metadata as GrpcMetadata } from '@grpc/grpc-js';
import * as api from '@crius/common/cri';
import { ImageServiceClient, RuntimeServiceClient } from '@crius/common/cri-grpc';

const RUNTIME_METHODS = [
  'version',
  'runPodSandbox',
  'stopPodSandbox',
  'removePodSandbox',
  'podSandboxStatus',
  'listPodSandbox',
  'createContainer',
  'startContainer',
  'stopContainer',
  'removeContainer',
  'listContainers',
  'containerStatus',
  'exec',
  'portForward',
] as const;
const IMAGE_METHODS = ['pullImage', 'listImages', 'imageStatus', 'removeImage'] as const;

type RuntimeMethod = (typeof RUNTIME_METHODS)[number];
type ImageMethod = (typeof IMAGE_METHODS)[number];
export type CriMethodName = RuntimeMethod | ImageMethod;

type Callback<R> = (error: ServiceError | null, response: R) => void;
// The last overload of each generated method is (request, metadata, options, callback).
type Unary<F> = F extends (req: infer Q, md: Metadata, opts: Partial<CallOptions>, cb: Callback<infer R>) => ClientUnaryCall ? { req: Q; res: R } : never;
type Sig<M extends CriMethodName> = M extends RuntimeMethod
  ? Unary<RuntimeServiceClient[M]>
  : M extends ImageMethod
    ? Unary<ImageServiceClient[M]>
    : never;
export type CriRequest<M extends CriMethodName> = api.DeepPartial<Sig<M>['req']>;
export type CriResponse<M extends CriMethodName> = Sig<M>['res'];

type Codec = { fromPartial(o: unknown): unknown };
type AnyUnary = (req: unknown, md: Metadata, opts: Partial<CallOptions>, cb: Callback<unknown>) => ClientUnaryCall;

/** "runPodSandbox" → "RunPodSandbox", the RPC name used in reports. */
export function rpcName(method: CriMethodName): string {
  return method[0]!.toUpperCase() + method.slice(1);
}

export class CriDriver {
  /** Milliseconds per completed call, keyed by RPC name; failed calls are not recorded. */
  readonly timings = new Map<string, number[]>();
  private readonly runtime: RuntimeServiceClient;
  private readonly image: ImageServiceClient;

  constructor(
    readonly socket: string,
    readonly defaultTimeoutMs = 120_000,
  ) {
    const target = `unix://${socket}`;
    // Unlimited message size both ways: list replies with many pods must not be the bottleneck.
    const opts = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
    this.runtime = new RuntimeServiceClient(target, credentials.createInsecure(), opts);
    this.image = new ImageServiceClient(target, credentials.createInsecure(), opts);
  }

  /** One unary CRI call with a partial request; rejects with the RPC, socket and gRPC details. */
  call<M extends CriMethodName>(method: M, req: CriRequest<M>, timeoutMs = this.defaultTimeoutMs): Promise<CriResponse<M>> {
    const name = rpcName(method);
    const codec = (api as unknown as Record<string, Codec>)[`${name}Request`]!;
    const client = (IMAGE_METHODS as readonly string[]).includes(method) ? this.image : this.runtime;
    const fn = (client as unknown as Record<string, AnyUnary>)[method]!.bind(client);
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      fn(codec.fromPartial(req), new GrpcMetadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (err) {
          reject(new Error(`${name} on ${this.socket}: ${err.details || err.message} (gRPC code ${err.code})`, { cause: err }));
          return;
        }
        this.record(name, Number(process.hrtime.bigint() - started) / 1e6);
        resolve(res as CriResponse<M>);
      });
    });
  }

  private record(name: string, ms: number): void {
    const list = this.timings.get(name) ?? [];
    list.push(ms);
    this.timings.set(name, list);
  }

  resetTimings(): void {
    this.timings.clear();
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}

/** Stop and remove every pod the runtime has, as kubelet would on drain; returns how many. */
export async function removeAllPods(driver: CriDriver, timeoutMs = 60_000): Promise<number> {
  const { items } = await driver.call('listPodSandbox', {}, timeoutMs);
  for (const p of items) {
    await driver.call('stopPodSandbox', { podSandboxId: p.id }, timeoutMs);
    await driver.call('removePodSandbox', { podSandboxId: p.id }, timeoutMs);
  }
  return items.length;
}

/** Polls Version until the endpoint answers (the socket can exist before the CRI service is registered). */
export async function waitForCri(driver: CriDriver, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      await driver.call('version', { version: 'v1' }, 2000);
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what}: CRI endpoint ${driver.socket} not answering after ${timeoutMs} ms`, { cause: last });
}

/** Runs `worker(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await worker(next++);
  });
  await Promise.all(lanes);
}
