// The contract between the streaming server (protocols, in this folder) and
// whatever runs the sessions: the gateway wires it to runtime-svc (exec,
// attach) and network-svc (port-forward) over the bus. Owned by cri-gateway.
import type { Duplex, Readable, Writable } from 'node:stream';

/** An Exec RPC's request, as stored behind its streaming URL. */
export interface ExecSpec {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** An Attach RPC's request, as stored behind its streaming URL. */
export interface AttachSpec {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** A PortForward RPC's request. `ports` may be empty: SPDY clients name ports per stream. */
export interface PortForwardSpec {
  podSandboxId: string;
  ports: number[];
  /** The pod uses the node's network namespace. */
  hostNetwork?: boolean;
}

/** A terminal size from the client's resize channel. */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's side of one exec/attach session, handed to the backend.
 *
 * - stdin: present iff the request asked for stdin. Ends when the client
 *   closes its stdin (SPDY FIN, WebSocket v5 close signal); the backend then
 *   closes the process's stdin. It may instead just close (client reset the
 *   stream): treat 'close' like the end.
 * - stdout / stderr: present iff requested (never stderr with tty). Write the
 *   process's output here and respect write()'s return value (or pipe()): a
 *   slow client pushes back through these. The backend should end() them when
 *   the process's output is done; the server ends them itself after the
 *   backend returns and waits until everything written has been sent.
 * - tty: the session is a terminal (stdout carries the terminal's output).
 * - resize: present iff tty; yields each size the client sends, ends with the
 *   session. Iterate it concurrently with the session.
 * - signal: aborted when the client goes away (or the server stops) before
 *   the session finished. The backend must then stop: kill the exec process or
 *   detach, and settle its promise promptly. Nothing more reaches the client.
 */
export interface SessionIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  resize?: AsyncIterable<TerminalSize>;
  signal: AbortSignal;
}

/**
 * Runs the sessions behind streaming URLs. Rejections become the session's
 * error status (exec/attach) or the port's error stream (port-forward); their
 * message reaches the user, so it should name what failed.
 */
export interface StreamingBackend {
  /** Runs cmd in the container; resolves with its exit code once it exited. */
  exec(req: ExecSpec, io: SessionIO): Promise<{ exitCode: number }>;
  /** Attaches to the container's main process; resolves when it exits or the session ends. */
  attach(req: AttachSpec, io: SessionIO): Promise<void>;
  /**
   * Opens a byte stream to `port` inside the pod's network namespace (the
   * node's, for a host-network pod). The
   * server owns the Duplex: it end()s it when the client half-closes, reads
   * it until it ends, and destroy()s it when the client goes away.
   */
  portForward(podSandboxId: string, port: number, opts?: { hostNetwork?: boolean }): Promise<Duplex>;
}

/** Minimal logger the server uses (pino's Logger satisfies it). */
export interface StreamingLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLog: StreamingLog = { debug: () => undefined, info: () => undefined, warn: () => undefined };
