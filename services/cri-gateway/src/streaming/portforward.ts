// Port-forward streams. SPDY (portforward.k8s.io): per forwarded connection
// the client opens an error and a data stream with headers `streamtype`,
// `port` and `requestid`; each complete pair gets its own backend connection.
// WebSocket (v4.channel.k8s.io framing): ports come from the request, port i
// uses channel 2i for data and 2i+1 for errors, and the server first sends the
// port (uint16 little-endian) on both. Owned by the gateway's streaming server.
import { PassThrough, type Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { PortForwardSpec, StreamingBackend, StreamingLog } from './backend.js';
import { toBuffer } from './remotecommand-ws.js';
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';
import { RstStatus } from './spdy/frames.js';
import { ChannelSocket } from './ws-channels.js';

export const SPDY_PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'];
/** The kubelet frames WebSocket port-forward as v4.channel.k8s.io; accept the portforward names too. */
export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io', 'v4.portforward.k8s.io', 'portforward.k8s.io'];

export interface PortForwardOptions {
  /** How long a pair may wait for its second stream (SPDY). */
  streamCreationTimeoutMs: number;
  log: StreamingLog;
  /** Aborted when the server stops: everything is torn down. */
  signal: AbortSignal;
}

interface Pair {
  requestId: string;
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Serves port-forward streams on one SPDY connection until it closes. */
export function servePortForwardOverSpdy(
  conn: SpdyConnection,
  spec: PortForwardSpec,
  backend: StreamingBackend,
  opts: PortForwardOptions,
): Promise<void> {
  const pending = new Map<string, Pair>();
  const targets = new Set<Duplex>();
  const stop = () => conn.destroy();
  opts.signal.addEventListener('abort', stop);
  conn.on('stream', (stream) => {
    const type = stream.headers['streamtype'];
    const port = parsePort(stream.headers['port']);
    if ((type !== 'error' && type !== 'data') || port === undefined) {
      opts.log.warn({ type, port: stream.headers['port'] }, 'port-forward stream without valid streamtype and port');
      return stream.reset(RstStatus.REFUSED_STREAM);
    }
    stream.reply();
    // Old clients send no request id: pair the error stream N with the data stream N+2.
    const requestId = stream.headers['requestid'] ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pending.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => expire(pending, requestId, opts.log), opts.streamCreationTimeoutMs);
      pair = { requestId, timer };
      pending.set(requestId, pair);
    }
    if (pair[type]) {
      pair.error?.write(`error processing stream for request ${requestId}: ${type} stream already assigned`);
      return stream.reset(RstStatus.PROTOCOL_ERROR);
    }
    pair[type] = stream;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pending.delete(requestId);
      // The data stream's port is the one to dial (as the kubelet does).
      void forward(pair.error, pair.data, parsePort(pair.data.headers['port'])!, spec, backend, targets, opts.log);
    }
  });
  return new Promise((resolve) => {
    conn.once('close', () => {
      opts.signal.removeEventListener('abort', stop);
      for (const p of pending.values()) clearTimeout(p.timer);
      for (const t of targets) t.destroy();
      resolve();
    });
  });
}

function expire(pending: Map<string, Pair>, requestId: string, log: StreamingLog): void {
  const pair = pending.get(requestId);
  if (!pair) return;
  pending.delete(requestId);
  log.warn({ requestId }, 'timed out waiting for port-forward streams');
  pair.error?.end(`timed out waiting for streams of request ${requestId}`);
  pair.data?.reset(RstStatus.CANCEL);
}

/** Connects one stream pair to the backend and copies both ways, half-closes included. */
async function forward(
  error: SpdyStream,
  data: SpdyStream,
  port: number,
  spec: PortForwardSpec,
  backend: StreamingBackend,
  targets: Set<Duplex>,
  log: StreamingLog,
): Promise<void> {
  error.resume(); // the client writes nothing there
  const fail = (err: unknown) => {
    const msg = `error forwarding port ${port} to pod ${spec.podSandboxId}: ${(err as Error).message}`;
    log.info({ port, podSandboxId: spec.podSandboxId, err: (err as Error).message }, 'port-forward failed');
    if (!error.writableEnded) error.end(msg);
    if (!data.writableEnded) data.end();
  };
  let target: Duplex;
  try {
    target = await backend.portForward(spec.podSandboxId, port, { hostNetwork: spec.hostNetwork });
  } catch (err) {
    return fail(err);
  }
  if (data.destroyed) {
    target.destroy();
    return;
  }
  targets.add(target);
  target.once('close', () => {
    targets.delete(target);
    // The target takes no more data: drop what the client still sends until its FIN.
    if (!data.destroyed) {
      data.unpipe(target);
      data.resume();
    }
  });
  target.on('error', (err) => {
    fail(err);
    target.destroy();
  });
  data.once('close', () => target.destroy()); // reset by the client, or the connection went away
  data.once('finish', () => {
    if (!error.writableEnded) error.end(); // all of the target's data is out: the request is done
  });
  data.pipe(target); // client FIN ends the target's write side
  target.pipe(data); // target EOF becomes our FIN
}

/** Serves port-forward over one WebSocket until every port's connection ended. */
export async function servePortForwardOverWebSocket(
  ws: WebSocket,
  spec: PortForwardSpec,
  backend: StreamingBackend,
  opts: PortForwardOptions,
): Promise<void> {
  const sock = new ChannelSocket(ws);
  const inbound = spec.ports.map(() => new PassThrough({ highWaterMark: 64 * 1024 }));
  const targets = new Set<Duplex>();
  const teardown = () => {
    for (const t of targets) t.destroy();
    for (const p of inbound) p.destroy();
  };
  const offGone = sock.onGone(teardown);
  const stop = () => {
    teardown();
    ws.terminate();
  };
  opts.signal.addEventListener('abort', stop);
  ws.on('message', (raw: RawData) => {
    const msg = toBuffer(raw);
    const channel = msg[0];
    // Only data channels (even) carry client bytes.
    if (channel === undefined || channel % 2 !== 0 || channel / 2 >= inbound.length) return;
    if (msg.length > 1) sock.forward(inbound[channel / 2]!, msg.subarray(1));
  });
  spec.ports.forEach((port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    sock.send(2 * i, prefix);
    sock.send(2 * i + 1, prefix);
  });
  try {
    await Promise.all(spec.ports.map((port, i) => forwardWsPort(sock, i, port, inbound[i]!, spec, backend, targets, opts.log)));
  } finally {
    offGone();
    opts.signal.removeEventListener('abort', stop);
    teardown();
    if (sock.open) ws.close(1000);
  }
}

async function forwardWsPort(
  sock: ChannelSocket,
  index: number,
  port: number,
  inbound: PassThrough,
  spec: PortForwardSpec,
  backend: StreamingBackend,
  targets: Set<Duplex>,
  log: StreamingLog,
): Promise<void> {
  const fail = async (err: unknown) => {
    log.info({ port, podSandboxId: spec.podSandboxId, err: (err as Error).message }, 'port-forward failed');
    const msg = `error forwarding port ${port} to pod ${spec.podSandboxId}: ${(err as Error).message}`;
    await sock.sendAndWait(2 * index + 1, Buffer.from(msg));
  };
  let target: Duplex;
  try {
    target = await backend.portForward(spec.podSandboxId, port, { hostNetwork: spec.hostNetwork });
  } catch (err) {
    return fail(err);
  }
  if (!sock.open) {
    target.destroy();
    return;
  }
  targets.add(target);
  const out = sock.writer(2 * index);
  inbound.pipe(target);
  target.pipe(out);
  await new Promise<void>((resolve) => {
    out.once('finish', resolve); // the target ended and all its data went out
    out.once('close', resolve); // the client went away
    target.once('error', (err) => void fail(err).then(resolve));
    target.once('close', () => {
      if (!target.readableEnded) resolve(); // torn down without EOF: nothing more will come
    });
  });
  target.destroy();
}
