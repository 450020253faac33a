// CRI calls as the commands make them: each failure labelled with the CRI
// method, turned into one line that names the endpoint (with a hint when the
// socket cannot be reached), and short id prefixes resolved the way tables show them.
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { CriusError } from '@crius/common';
import { ContainerStatusRequest, ListContainersRequest, ListPodSandboxRequest, type Container, type PodSandbox } from '@crius/common/cri';
import { CliError, UsageError, type Ctx } from './command.js';
import { callUnary, type CriClient } from './cri-client.js';

/** A CRI call that failed, with the method it was. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${method}: ${GrpcStatus[code] ?? code}: ${details}`, options);
  }
}

export const TIMEOUT = { short: 30_000, pull: 15 * 60_000, sandbox: 4 * 60_000 };

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as ServiceError).code === 'number' && 'details' in err;
}

/** Runs one CRI call on the context's connection, labelling its failure with `method`. */
export async function call<T>(ctx: Ctx, method: string, fn: (c: CriClient) => Promise<T>): Promise<T> {
  try {
    return await fn(ctx.cri());
  } catch (err) {
    if (isServiceError(err)) throw new RpcError(method, err.code, err.details, { cause: err });
    throw err;
  }
}

/** Short form of a unary call: `unary(ctx, 'ListContainers', (c) => [c.runtime, c.runtime.listContainers], req)`. */
export function unary<Req, Res>(
  ctx: Ctx,
  method: string,
  pick: (c: CriClient) => [CriClient['runtime'] | CriClient['image'], Parameters<typeof callUnary<Req, Res>>[1]],
  req: Req,
  timeoutMs = TIMEOUT.short,
): Promise<Res> {
  return call(ctx, method, (c) => {
    const [client, fn] = pick(c);
    return callUnary<Req, Res>(client, fn, req, timeoutMs);
  });
}

const CONNECT_REASONS: [RegExp, string][] = [
  [/ENOENT/, 'no socket at that path'],
  [/ECONNREFUSED/, 'nothing is listening on it'],
  [/EACCES|EPERM/, 'permission denied (run as root or as a member of the socket group)'],
];

export function isUnreachable(err: unknown): boolean {
  return err instanceof RpcError && err.code === GrpcStatus.UNAVAILABLE && /No connection established|connect /.test(err.details);
}

/** One line for any failure, naming the endpoint when the failure is a CRI call. */
export function describeError(err: unknown, endpoint: string): string {
  if (err instanceof RpcError) {
    if (isUnreachable(err)) {
      const reason = CONNECT_REASONS.find(([re]) => re.test(err.details))?.[1] ?? err.details;
      return `cannot reach the CRI endpoint ${endpoint}: ${reason}. Is crius running (\`crius up\`)? Use --endpoint for another runtime's socket.`;
    }
    if (err.code === GrpcStatus.UNIMPLEMENTED) return `${err.method}: not implemented by ${endpoint}${err.details ? ` (${err.details})` : ''}`;
    return err.message;
  }
  if (err instanceof CliError || err instanceof UsageError || err instanceof CriusError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof RpcError && err.code === GrpcStatus.NOT_FOUND;
}

/** Picks the one item whose id starts with `ref` (or whose name is `ref`); an unknown ref is passed on for the runtime to refuse. */
function pickOne<T extends { id: string }>(items: T[], ref: string, name: (t: T) => string | undefined, what: string): string {
  const exact = items.find((i) => i.id === ref);
  if (exact) return exact.id;
  const byPrefix = items.filter((i) => i.id.startsWith(ref));
  const matches = byPrefix.length > 0 ? byPrefix : items.filter((i) => name(i) === ref);
  if (matches.length > 1) throw new CliError(`${what} ${JSON.stringify(ref)} is ambiguous: it matches ${matches.map((m) => m.id.slice(0, 13)).join(', ')}`);
  return matches[0]?.id ?? ref;
}

export async function listContainers(ctx: Ctx, req: Partial<ListContainersRequest> = {}): Promise<Container[]> {
  const r = await unary(ctx, 'ListContainers', (c) => [c.runtime, c.runtime.listContainers], ListContainersRequest.fromPartial(req));
  return r.containers;
}

export async function listPods(ctx: Ctx, req: Partial<ListPodSandboxRequest> = {}): Promise<PodSandbox[]> {
  const r = await unary(ctx, 'ListPodSandbox', (c) => [c.runtime, c.runtime.listPodSandbox], ListPodSandboxRequest.fromPartial(req));
  return r.items;
}

/** Full container id from an id prefix or a container name. */
export async function resolveContainer(ctx: Ctx, ref: string): Promise<string> {
  if (!ref) throw new UsageError('empty container id');
  return pickOne(await listContainers(ctx), ref, (c) => c.metadata?.name, 'container');
}

/** Full pod sandbox id from an id prefix or a pod name. */
export async function resolvePod(ctx: Ctx, ref: string): Promise<string> {
  if (!ref) throw new UsageError('empty pod id');
  return pickOne(await listPods(ctx), ref, (p) => p.metadata?.name, 'pod');
}

export async function containerStatus(ctx: Ctx, id: string, verbose = false) {
  return unary(ctx, 'ContainerStatus', (c) => [c.runtime, c.runtime.containerStatus], ContainerStatusRequest.fromPartial({ containerId: id, verbose }));
}

/** Runs `fn` on each argument, reporting each failure on stderr; exit code 1 if any failed. */
export async function eachArg(ctx: Ctx, args: string[], fn: (arg: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const a of args) {
    try {
      await fn(a);
    } catch (err) {
      if (isUnreachable(err)) throw err; // one line, not one per argument
      failed++;
      ctx.stderr.write(`crius: ${describeError(err, ctx.endpoint())}\n`);
    }
  }
  return failed ? 1 : 0;
}
