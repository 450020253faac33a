// Calls any CRI method by name with a partial request object, the way a
// generic CRI client would, returning the decoded reply or the gRPC error.
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import * as api from '@crius/common/cri';
import { criMethods, type CriMethod, type CriMethodInfo } from '@crius/common';

type Codec = { fromPartial(o: unknown): unknown; encode(m: unknown): { finish(): Uint8Array }; decode(b: Uint8Array): unknown };

const REQUEST_TYPE: Partial<Record<CriMethod, string>> = { GetContainerEvents: 'GetEventsRequest' };
const RESPONSE_TYPE: Partial<Record<CriMethod, string>> = { GetContainerEvents: 'ContainerEventResponse' };

export function codecs(method: CriMethod): { req: Codec; res: Codec } {
  const lib = api as unknown as Record<string, Codec>;
  return { req: lib[REQUEST_TYPE[method] ?? `${method}Request`]!, res: lib[RESPONSE_TYPE[method] ?? `${method}Response`]! };
}

export function methodInfo(method: CriMethod): CriMethodInfo {
  return criMethods().find((m) => m.name === method)!;
}

export function rawClient(socket: string): Client {
  return new Client(`unix://${socket}`, credentials.createInsecure());
}

export function pathOf(m: CriMethodInfo): string {
  return `/runtime.v1.${m.service}/${m.name}`;
}

export type CallResult = { ok: true; reply: unknown } | { ok: false; error: ServiceError };

/** One unary call with raw bytes in and out (bytes let a test send garbage too). */
export function unaryBytes(client: Client, path: string, body: Buffer, timeoutMs = 5000): Promise<{ ok: true; reply: Buffer } | { ok: false; error: ServiceError }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, reply) => resolve(err ? { ok: false, error: err } : { ok: true, reply: reply! }),
    );
  });
}

export async function callCri(client: Client, method: CriMethod, partial: object, timeoutMs = 5000): Promise<CallResult> {
  const { req, res } = codecs(method);
  const body = Buffer.from(req.encode(req.fromPartial(partial)).finish());
  const r = await unaryBytes(client, pathOf(methodInfo(method)), body, timeoutMs);
  return r.ok ? { ok: true, reply: res.decode(r.reply) } : r;
}
