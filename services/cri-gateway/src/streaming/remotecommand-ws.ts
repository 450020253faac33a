// exec/attach over WebSocket (channel.k8s.io, v4 and v5): binary messages
// prefixed by a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error (Status),
// 4 resize; v5 adds channel 255, where [255, n] means the client closed
// channel n. Owned by the gateway's streaming server.
import { PassThrough, type Writable } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { StreamingBackend, StreamingLog } from './backend.js';
import {
  ResizeQueue,
  protocolVersion,
  runSession,
  statusPayload,
  type RemoteCommandKind,
  type RemoteCommandSpec,
  type SessionStreams,
} from './remotecommand.js';
import { ChannelSocket } from './ws-channels.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

export interface WsSessionOptions {
  log: StreamingLog;
  /** Aborted when the server stops: the session is torn down. */
  signal: AbortSignal;
}

export async function serveRemoteCommandOverWebSocket(
  ws: WebSocket,
  protocol: string,
  kind: RemoteCommandKind,
  spec: RemoteCommandSpec,
  backend: StreamingBackend,
  opts: WsSessionOptions,
): Promise<void> {
  const version = protocolVersion(protocol);
  const sock = new ChannelSocket(ws);
  const session = new AbortController();
  const streams = sessionStreams(sock, spec);
  const abort = () => {
    session.abort();
    for (const w of [streams.stdout, streams.stderr]) w?.destroy();
    streams.stdin?.destroy();
  };
  const offGone = sock.onGone(abort);
  opts.signal.addEventListener('abort', abort);
  ws.on('message', (data: RawData) => onMessage(sock, version, streams, toBuffer(data)));
  // An empty message on the lowest output channel tells the client the session is up.
  sock.send(spec.stdout ? STDOUT : spec.stderr ? STDERR : ERROR, Buffer.alloc(0));
  try {
    const status = await runSession(kind, spec, backend, streams, session.signal);
    if (!status) return;
    const payload = statusPayload(version, status);
    if (payload) await sock.sendAndWait(ERROR, payload);
    opts.log.debug({ kind, protocol, status: status.status, reason: status.reason }, 'streaming session done');
  } finally {
    offGone();
    opts.signal.removeEventListener('abort', abort);
    if (session.signal.aborted) ws.terminate();
    else ws.close(1000);
  }
}

function sessionStreams(sock: ChannelSocket, spec: RemoteCommandSpec): SessionStreams {
  const streams: SessionStreams = {};
  if (spec.stdin) streams.stdin = new PassThrough({ highWaterMark: 64 * 1024 });
  if (spec.stdout) streams.stdout = sock.writer(STDOUT);
  if (spec.stderr) streams.stderr = sock.writer(STDERR);
  if (spec.tty) streams.resize = new ResizeQueue();
  return streams;
}

function onMessage(sock: ChannelSocket, version: number, streams: SessionStreams, msg: Buffer): void {
  if (msg.length === 0) return;
  const payload = msg.subarray(1);
  switch (msg[0]) {
    case STDIN:
      if (streams.stdin && payload.length > 0) sock.forward(streams.stdin as PassThrough as Writable, payload);
      return;
    case RESIZE:
      streams.resize?.feed(payload);
      return;
    case CLOSE:
      if (version < 5 || payload.length < 1) return;
      if (payload[0] === STDIN) (streams.stdin as PassThrough | undefined)?.end();
      if (payload[0] === RESIZE) streams.resize?.end();
      return;
    default:
      return; // nothing else is read from the client
  }
}

export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
