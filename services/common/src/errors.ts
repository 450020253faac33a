// The closed set of crius errors and their one mapping to gRPC status codes.
// Services throw these; the bus carries `code` + message in reply headers; the
// gateway turns them back into gRPC errors unchanged (see bus/errors-wire.ts).

/** gRPC status codes we use (numeric values fixed by gRPC). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

/** The gRPC name of a code ("NOT_FOUND"), for metrics and messages. */
export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? 'UNKNOWN';
}
const CODE_NAMES = new Map<number, string>(Object.entries(Code).map(([name, value]) => [value, name]));

export interface ErrorOptions {
  cause?: unknown;
}

/** Base class: every error a crius service reports on purpose. */
export abstract class CriusError extends Error {
  abstract readonly code: CodeValue;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends CriusError {
  readonly code = Code.NOT_FOUND;
}
export class AlreadyExistsError extends CriusError {
  readonly code = Code.ALREADY_EXISTS;
}
export class InvalidArgumentError extends CriusError {
  readonly code = Code.INVALID_ARGUMENT;
}
export class FailedPreconditionError extends CriusError {
  readonly code = Code.FAILED_PRECONDITION;
}
export class UnavailableError extends CriusError {
  readonly code = Code.UNAVAILABLE;
}
export class DeadlineExceededError extends CriusError {
  readonly code = Code.DEADLINE_EXCEEDED;
}
export class ResourceExhaustedError extends CriusError {
  readonly code = Code.RESOURCE_EXHAUSTED;
}
export class InternalError extends CriusError {
  readonly code = Code.INTERNAL;
}
export class UnimplementedError extends CriusError {
  readonly code = Code.UNIMPLEMENTED;
}

const byCode = new Map<number, new (m: string, o?: ErrorOptions) => CriusError>([
  [Code.NOT_FOUND, NotFoundError],
  [Code.ALREADY_EXISTS, AlreadyExistsError],
  [Code.INVALID_ARGUMENT, InvalidArgumentError],
  [Code.FAILED_PRECONDITION, FailedPreconditionError],
  [Code.UNAVAILABLE, UnavailableError],
  [Code.DEADLINE_EXCEEDED, DeadlineExceededError],
  [Code.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  [Code.INTERNAL, InternalError],
  [Code.UNIMPLEMENTED, UnimplementedError],
]);

/** Rebuild a typed error from a code and message that crossed the bus. */
export function errorFromCode(code: number, message: string): CriusError {
  const Ctor = byCode.get(code) ?? InternalError;
  return new Ctor(message);
}

/** Any thrown value as a CriusError; unknown failures become Internal. */
export function toCriusError(err: unknown): CriusError {
  if (err instanceof CriusError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}
