// Single-use streaming tokens: each Exec/Attach/PortForward RPC stores its
// request under an unguessable token that names it in the returned URL, used
// once and expiring after a minute. Owned by the gateway's streaming server.
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, ResourceExhaustedError } from '@crius/common';
import type { AttachSpec, ExecSpec, PortForwardSpec } from './backend.js';

export type StreamKind = 'exec' | 'attach' | 'portforward';

export type StreamRequest =
  | { kind: 'exec'; spec: ExecSpec }
  | { kind: 'attach'; spec: AttachSpec }
  | { kind: 'portforward'; spec: PortForwardSpec };

export interface TokenStoreOptions {
  /** Lifetime of an unused token. Default 60 s. */
  ttlMs?: number;
  /** Unused tokens held at most (as the kubelet's cache). Default 1000. */
  maxPending?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Entry {
  request: StreamRequest;
  expires: number;
}

export class TokenStore {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxPending: number;
  private readonly now: () => number;

  constructor(opts: TokenStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxPending = opts.maxPending ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    this.evictExpired();
    return this.entries.size;
  }

  /** Stores a validated request; returns its token (32 random bytes, base64url). */
  insert(request: StreamRequest): string {
    validate(request);
    this.evictExpired();
    if (this.entries.size >= this.maxPending) {
      throw new ResourceExhaustedError(`streaming: ${this.entries.size} unused ${request.kind} URLs pending, the maximum is ${this.maxPending}`);
    }
    const token = randomBytes(32).toString('base64url');
    // Spread-copy so later changes to the caller's object cannot alter the stored request.
    this.entries.set(token, { request: copy(request), expires: this.now() + this.ttlMs });
    return token;
  }

  /** Takes the request a token names: undefined if unknown, used or expired. */
  consume(token: string): StreamRequest | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.request : undefined;
  }

  private evictExpired(): void {
    // Insertion order is expiry order (one TTL), so expired entries are at the front.
    const now = this.now();
    for (const [token, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(token);
    }
  }
}

function copy(r: StreamRequest): StreamRequest {
  switch (r.kind) {
    case 'exec':
      return { kind: 'exec', spec: { ...r.spec, cmd: [...r.spec.cmd] } };
    case 'attach':
      return { kind: 'attach', spec: { ...r.spec } };
    case 'portforward':
      return { kind: 'portforward', spec: { ...r.spec, ports: [...r.spec.ports] } };
  }
}

/** The checks the kubelet's streaming server makes before handing out a URL. */
export function validate(r: StreamRequest): void {
  if (r.kind === 'portforward') {
    if (!r.spec.podSandboxId) throw new InvalidArgumentError('port-forward: missing required pod_sandbox_id');
    const bad = r.spec.ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
    if (bad !== undefined) throw new InvalidArgumentError(`port-forward to pod ${r.spec.podSandboxId}: invalid port ${bad}`);
    return;
  }
  const s = r.spec;
  if (!s.containerId) throw new InvalidArgumentError(`${r.kind}: missing required container_id`);
  if (r.kind === 'exec' && r.spec.cmd.length === 0) throw new InvalidArgumentError(`exec in container ${s.containerId}: cmd is empty`);
  // With a terminal there is one output stream: stderr cannot be multiplexed.
  if (s.tty && s.stderr) throw new InvalidArgumentError(`${r.kind} in container ${s.containerId}: tty and stderr cannot both be true`);
  if (!s.stdin && !s.stdout && !s.stderr) {
    throw new InvalidArgumentError(`${r.kind} in container ${s.containerId}: one of stdin, stdout, or stderr must be set`);
  }
}
