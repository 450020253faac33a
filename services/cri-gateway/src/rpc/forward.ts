// Forwarding of every CRI call a service owns: decode to validate, send the
// caller's bytes unchanged to crius.v1.<owner>.<Method>, return the reply's
// bytes unchanged. The gateway never re-encodes what a service answered.
import { InvalidArgumentError, type BusClient, type CriMethod, type ServiceName } from '@crius/common';
import type { CallContext } from '../instrument.js';
import { validateRequest } from '../validate.js';

export type Decoder = (bytes: Buffer) => unknown;

export function decodeAndValidate(method: CriMethod, decode: Decoder, bytes: Buffer): void {
  let request: unknown;
  try {
    request = decode(bytes);
  } catch (err) {
    throw new InvalidArgumentError(`${method}: malformed request: ${(err as Error).message}`, { cause: err });
  }
  validateRequest(method, request);
}

export async function forwardUnary(
  bus: BusClient,
  owner: ServiceName,
  method: CriMethod,
  decode: Decoder,
  bytes: Buffer,
  ctx: CallContext,
): Promise<Buffer> {
  decodeAndValidate(method, decode, bytes);
  const reply = await bus.requestRaw(owner, method, bytes, { deadline: ctx.deadline, requestId: ctx.requestId });
  return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
}

export async function* forwardStream(
  bus: BusClient,
  owner: ServiceName,
  method: CriMethod,
  decode: Decoder,
  bytes: Buffer,
  ctx: CallContext,
): AsyncGenerator<Buffer> {
  decodeAndValidate(method, decode, bytes);
  for await (const chunk of bus.requestStreamRaw(owner, method, bytes, { deadline: ctx.deadline, requestId: ctx.requestId })) {
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}
