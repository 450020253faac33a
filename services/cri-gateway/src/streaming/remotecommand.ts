// The exec/attach stream protocol shared by its SPDY and WebSocket transports:
// protocol versions, the Kubernetes Status written on the error stream, the
// resize stream, and running one session against the backend. Owned by the
// gateway's streaming server (remotecommand-spdy.ts, remotecommand-ws.ts).
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { AttachSpec, ExecSpec, SessionIO, StreamingBackend, TerminalSize } from './backend.js';

/** SPDY (X-Stream-Protocol-Version) exec/attach protocols, most preferred first. */
export const SPDY_REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** WebSocket (Sec-WebSocket-Protocol) exec/attach protocols; '' is a client that offers none. */
export const WS_REMOTECOMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'];

/** 1-5 from a protocol name; a client that negotiated nothing speaks v1. */
export function protocolVersion(protocol: string): number {
  const m = /^v(\d)\.channel\.k8s\.io$/.exec(protocol);
  return m ? Number(m[1]) : 1;
}

export type RemoteCommandKind = 'exec' | 'attach';
export type RemoteCommandSpec = ExecSpec | AttachSpec;

/** metav1.Status as the error stream carries it (keys in Go's field order). */
export interface K8sStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: Array<{ reason?: string; message: string }> };
  code?: number;
}

export function successStatus(): K8sStatus {
  return { metadata: {}, status: 'Success' };
}

export function exitCodeStatus(exitCode: number): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function internalErrorStatus(message: string): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/**
 * What goes on the error stream: v4+ the Status as JSON; v1-v3 only the
 * message of a failure as plain text (nothing on success).
 */
export function statusPayload(version: number, status: K8sStatus): Buffer | undefined {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return undefined;
  return Buffer.from(status.message ?? 'unknown error');
}

/**
 * Terminal sizes from the resize stream: a sequence of JSON objects
 * {"Width":w,"Height":h}, possibly split across chunks. Only the newest
 * unread size is kept, so a client that floods resizes cannot grow memory.
 */
export class ResizeQueue implements AsyncIterable<TerminalSize> {
  private latest: TerminalSize | undefined;
  private ended = false;
  private wake: (() => void) | undefined;
  private text = '';
  private depth = 0;

  /** Feeds raw resize-stream bytes; malformed input ends the queue (as the kubelet stops decoding). */
  feed(chunk: Buffer | string): void {
    if (this.ended) return;
    for (const ch of chunk.toString()) {
      if (this.depth === 0 && /\s/.test(ch)) continue;
      this.text += ch;
      if (ch === '{') this.depth++;
      else if (ch === '}') this.depth--;
      if (this.depth < 0 || this.text.length > 4096 || (this.depth === 0 && ch !== '}')) return this.end();
      if (this.depth === 0) this.parse();
    }
  }

  push(size: TerminalSize): void {
    if (this.ended) return;
    this.latest = size;
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    for (;;) {
      if (this.latest) {
        const size = this.latest;
        this.latest = undefined;
        yield size;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private parse(): void {
    const text = this.text;
    this.text = '';
    try {
      const v = JSON.parse(text) as { Width?: unknown; Height?: unknown };
      const width = Number(v.Width ?? 0);
      const height = Number(v.Height ?? 0);
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) {
        return this.end();
      }
      this.push({ width, height });
    } catch {
      this.end();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** A transport's streams for one session, as the client set them up. */
export interface SessionStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: ResizeQueue;
}

/**
 * Runs one exec/attach session: the backend with the client's streams, then
 * ends stdout/stderr, waits until their data went out, and returns the Status
 * for the error stream — or undefined if the session was aborted (the client
 * went away) and nothing more can be sent.
 */
export async function runSession(
  kind: RemoteCommandKind,
  spec: RemoteCommandSpec,
  backend: StreamingBackend,
  streams: SessionStreams,
  signal: AbortSignal,
): Promise<K8sStatus | undefined> {
  const io: SessionIO = { tty: spec.tty, signal };
  if (streams.stdin) io.stdin = streams.stdin;
  if (streams.stdout) io.stdout = streams.stdout;
  if (streams.stderr) io.stderr = streams.stderr;
  if (streams.resize) io.resize = streams.resize;
  let status: K8sStatus;
  try {
    if (kind === 'exec') {
      const { exitCode } = await backend.exec(spec as ExecSpec, io);
      status = exitCode === 0 ? successStatus() : exitCodeStatus(exitCode);
    } else {
      await backend.attach(spec, io);
      status = successStatus();
    }
  } catch (err) {
    const what = kind === 'exec' ? 'error executing command in container' : 'error attaching to container';
    status = internalErrorStatus(`${what}: ${(err as Error).message}`);
  } finally {
    streams.resize?.end();
  }
  if (signal.aborted) return undefined;
  await Promise.all([endAndFlush(streams.stdout), endAndFlush(streams.stderr)]);
  return signal.aborted ? undefined : status;
}

/** Ends a writable the backend left open and waits until its data was handed on. */
async function endAndFlush(w: Writable | undefined): Promise<void> {
  if (!w || w.destroyed) return;
  if (!w.writableEnded) w.end();
  await finished(w, { readable: false }).catch(() => undefined);
}
