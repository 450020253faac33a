// The client side of the CRI streaming server for `crius exec -i/-t`, `attach`
// and `port-forward`: WebSocket channel framing (first byte = channel), exec/
// attach over v5.channel.k8s.io and one forwarded connection over v4.channel.k8s.io.
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { CliError } from './command.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;
/** Stop reading local input while this much is queued for the socket. */
const HIGH_WATER = 1024 * 1024;

export const REMOTECOMMAND_PROTOCOL = 'v5.channel.k8s.io';
export const PORTFORWARD_PROTOCOL = 'v4.channel.k8s.io';

/** A local output the session writes to, drained before more is read from the socket. */
export interface Sink {
  write(chunk: Uint8Array): boolean;
  once(event: 'drain', fn: () => void): unknown;
}

export interface TerminalSize {
  width: number;
  height: number;
}

export interface RemoteCommandIo {
  /** Sent on channel 0; its end closes the remote stdin ([255, 0]). */
  stdin?: NodeJS.ReadableStream;
  stdout: Sink;
  stderr: Sink;
  /** The local terminal's size, sent at the start and again on each `onResize`. */
  size?: () => TerminalSize | undefined;
  onResize?: (fn: () => void) => () => void;
  /** Ctrl-C without a terminal: the session is dropped. */
  signal: AbortSignal;
}

/** The streaming URL as a WebSocket URL (http → ws, https → wss). */
export function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws');
}

export function frame(channel: number, data: Uint8Array | string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

interface StatusCause {
  reason?: string;
  message?: string;
}

/** The exit code a Kubernetes Status (channel 3) stands for; a failure that is not an exit code is thrown. */
export function exitCodeOf(statusJson: string): number {
  let status: { status?: string; reason?: string; message?: string; details?: { causes?: StatusCause[] } };
  try {
    status = JSON.parse(statusJson) as typeof status;
  } catch (err) {
    throw new CliError(`streaming session: unreadable status ${JSON.stringify(statusJson.slice(0, 200))}`, { cause: err });
  }
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const code = Number(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new CliError(`streaming session failed: ${status.message ?? statusJson}`);
}

/**
 * Opens a WebSocket with one subprotocol; rejects with the server's refusal
 * (e.g. 404 for a used URL). `onMessage` is attached before the handshake
 * ends: frames sent right after it can arrive before an awaiting caller resumes.
 */
export function openSocket(url: string, protocol: string, onMessage: (msg: Buffer, ws: WebSocket) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(new CliError(`cannot open the stream ${url}: ${err.message}`, { cause: err }));
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl(url), [protocol]);
      ws.on('message', (raw: RawData) => onMessage(toBuffer(raw), ws));
    } catch (err) {
      return fail(err as Error); // a malformed URL from the runtime
    }
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => fail(new Error(`HTTP ${res.statusCode}${body ? `: ${body.trim()}` : ''}`)));
    });
    ws.once('open', () => {
      ws.off('error', fail);
      resolve(ws);
    });
  });
}

/** Writes to a local sink; the socket stops delivering until the sink drained. */
function writeTo(ws: WebSocket, sink: Sink, data: Buffer): void {
  if (!sink.write(data)) {
    ws.pause();
    sink.once('drain', () => ws.resume());
  }
}

/** Sends local input on a channel, pausing the input while the socket is backed up. */
function pump(ws: WebSocket, input: NodeJS.ReadableStream, channel: number, onEnd: () => void): () => void {
  const onData = (chunk: Buffer | string) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(frame(channel, chunk), () => {
      if (ws.bufferedAmount < HIGH_WATER) input.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) input.pause();
  };
  input.on('data', onData);
  input.once('end', onEnd);
  input.resume();
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
  };
}

/**
 * Runs one exec/attach session at `url` and resolves with the remote exit
 * code: 0 for Success, the code of a NonZeroExitCode status, 130 when the
 * local side gave up (Ctrl-C). A session that ends without a status (attach
 * to a container that stopped) counts as 0.
 */
export async function runRemoteCommand(url: string, io: RemoteCommandIo): Promise<number> {
  let status = '';
  const ws = await openSocket(url, REMOTECOMMAND_PROTOCOL, (msg, ws) => {
    const payload = msg.subarray(1);
    if (payload.length === 0) return; // the "session is up" marker
    if (msg[0] === STDOUT) writeTo(ws, io.stdout, payload);
    else if (msg[0] === STDERR) writeTo(ws, io.stderr, payload);
    else if (msg[0] === ERROR) status += payload.toString();
  });
  const sendSize = () => {
    const size = io.size?.();
    if (size && ws.readyState === WebSocket.OPEN) ws.send(frame(RESIZE, JSON.stringify({ Width: size.width, Height: size.height })));
  };
  sendSize();
  const offResize = io.onResize?.(sendSize);
  const closeStdin = () => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from([CLOSE, STDIN]));
  };
  const offStdin = io.stdin ? pump(ws, io.stdin, STDIN, closeStdin) : undefined;
  const onAbort = () => ws.close(1000);
  io.signal.addEventListener('abort', onAbort);
  try {
    await new Promise<void>((resolve, reject) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once('close', () => resolve());
      ws.once('error', (err) => reject(new CliError(`stream ${url}: ${err.message}`, { cause: err })));
    });
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    offResize?.();
    offStdin?.();
  }
  if (status) return exitCodeOf(status);
  return io.signal.aborted ? 130 : 0;
}

/**
 * Relays one accepted local connection to `port` in the pod through the
 * port-forward URL. The server first sends the port (2 bytes, little-endian)
 * on the data (0) and error (1) channels; error text afterwards is reported
 * through `onError` and ends the connection.
 */
export async function forwardConnection(url: string, port: number, conn: Socket, onError: (message: string) => void): Promise<void> {
  const target = `${url}${url.includes('?') ? '&' : '?'}port=${port}`;
  // Bytes still to skip per channel: the port prefix.
  const prefix = [2, 2];
  let error = '';
  const ws = await openSocket(target, PORTFORWARD_PROTOCOL, (msg, ws) => {
    let data = msg;
    const channel = data[0];
    if (channel !== 0 && channel !== 1) return;
    data = data.subarray(1);
    const skip = Math.min(prefix[channel]!, data.length);
    prefix[channel]! -= skip;
    data = data.subarray(skip);
    if (data.length === 0) return;
    if (channel === 0) writeTo(ws, conn, data);
    else error += data.toString();
  });
  if (conn.destroyed) {
    ws.close(1000);
    return;
  }
  const offInput = pump(ws, conn, 0, () => undefined); // no half-close in this framing: wait for the pod's side
  await new Promise<void>((resolve) => {
    const done = () => {
      offInput();
      if (error) {
        onError(error);
        conn.destroy();
      } else conn.end();
      resolve();
    };
    if (ws.readyState === WebSocket.CLOSED) return done();
    ws.once('close', done);
    ws.once('error', (err) => {
      onError(err.message);
      conn.destroy();
    });
    conn.once('close', () => ws.close(1000));
    conn.on('error', () => ws.close(1000));
  });
}
