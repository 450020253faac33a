// HTTP plumbing for registry I/O over undici: one dispatcher per CA bundle
// (following redirects; undici drops credentials on cross-origin hops),
// bounded body reads, network-error mapping and retry with backoff. Owner: image-svc.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, interceptors, type Dispatcher } from 'undici';
import { ResourceExhaustedError, UnavailableError } from '@crius/common';

export interface RetryOptions {
  /** Total tries of one request, first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

export interface HttpTimeouts {
  connectMs: number;
  headersMs: number;
  /** Longest silence between two body chunks. */
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000 };

const MAX_REDIRECTS = 5;

/** Socket-level failures worth another try; anything else is a hard error. */
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const nested = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length > 0) {
      current = nested[0];
      continue;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Certificate problems are configuration errors: retrying cannot fix them. */
const TLS_CODES = /^(?:ERR_TLS_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED_|CERT_)/;

export function tlsErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODES.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isNetworkError(err: unknown): boolean {
  return errorCode(err) !== undefined;
}

/** Wraps a socket failure into UnavailableError naming the operation and host. */
export function toUnavailable(err: unknown, what: string, host: string): unknown {
  const code = errorCode(err);
  if (!code) return err;
  return new UnavailableError(`${what}: registry ${host} unreachable (${code})`, { cause: err });
}

/** Dispatchers keyed by CA file so each trust configuration reuses its connections. */
export class HttpPool {
  private readonly agents = new Map<string, Dispatcher>();

  constructor(private readonly timeouts: HttpTimeouts = DEFAULT_TIMEOUTS) {}

  dispatcher(caFile?: string): Dispatcher {
    const key = caFile ?? '';
    let agent = this.agents.get(key);
    if (!agent) {
      const ca = caFile ? readFileSync(caFile) : undefined;
      agent = new Agent({
        connect: { ca, timeout: this.timeouts.connectMs },
        headersTimeout: this.timeouts.headersMs,
        bodyTimeout: this.timeouts.bodyMs,
      }).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
      this.agents.set(key, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }
}

/** Reads a whole body, refusing more than `limit` bytes (by header or by count). */
type Body = AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => unknown; on?: (event: 'error', fn: () => void) => unknown };

/** Stops reading a body we refuse; its abort error has nobody to tell. */
function abandon(body: Body): void {
  body.on?.('error', () => {});
  body.destroy?.();
}

export async function readLimited(
  body: Body,
  limit: number,
  what: string,
  contentLength?: string | string[],
): Promise<Buffer> {
  const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  const tooLarge = () => new ResourceExhaustedError(`${what}: larger than the ${limit}-byte limit`);
  if (Number.isFinite(declared) && declared > limit) {
    abandon(body);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > limit) {
      abandon(body);
      throw tooLarge();
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Drains a body we don't need so the connection can be reused. */
export async function discard(body: AsyncIterable<Uint8Array> & { dump?: () => Promise<void> }): Promise<void> {
  try {
    if (body.dump) await body.dump();
    else for await (const _ of body) void _;
  } catch {
    // The response is already decided; a broken body changes nothing.
  }
}

function backoff(attempt: number, options: RetryOptions): number {
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2);
}

/**
 * Runs `fn` until it succeeds, fails with a non-transient error, or the
 * attempts run out. Transient means UnavailableError (5xx, 429, socket errors).
 */
export async function withRetry<T>(options: RetryOptions, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof UnavailableError) || attempt + 1 >= options.attempts) throw err;
      await sleep(backoff(attempt, options));
    }
  }
}
