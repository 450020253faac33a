// exec/attach over SPDY (channel.k8s.io v1-v4): the client opens one stream
// per channel, named by its `streamtype` header; once the expected set is
// there the session runs, and its Status goes on the error stream before the
// connection closes. Owned by the gateway's streaming server.
import { finished } from 'node:stream/promises';
import type { StreamingBackend, StreamingLog } from './backend.js';
import {
  ResizeQueue,
  protocolVersion,
  runSession,
  statusPayload,
  type RemoteCommandKind,
  type RemoteCommandSpec,
} from './remotecommand.js';
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';
import { RstStatus } from './spdy/frames.js';

export interface SpdySessionOptions {
  /** How long the client has to open all its streams (kubelet default 30 s). */
  streamCreationTimeoutMs: number;
  log: StreamingLog;
  /** Aborted when the server stops: the session is torn down. */
  signal: AbortSignal;
}

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/** The stream types a client opens for this request and protocol version. */
export function expectedStreamTypes(spec: RemoteCommandSpec, version: number): StreamType[] {
  const types: StreamType[] = ['error'];
  if (spec.stdin) types.push('stdin');
  if (spec.stdout) types.push('stdout');
  if (spec.stderr) types.push('stderr');
  if (spec.tty && version >= 3) types.push('resize');
  return types;
}

export async function serveRemoteCommandOverSpdy(
  conn: SpdyConnection,
  protocol: string,
  kind: RemoteCommandKind,
  spec: RemoteCommandSpec,
  backend: StreamingBackend,
  opts: SpdySessionOptions,
): Promise<void> {
  const version = protocolVersion(protocol);
  const streams = await collectStreams(conn, expectedStreamTypes(spec, version), opts);
  if (!streams) return;
  const session = new AbortController();
  const abort = () => session.abort();
  conn.once('close', abort);
  opts.signal.addEventListener('abort', abort);
  // The client resetting an output stream means it no longer wants the result.
  for (const t of ['error', 'stdout', 'stderr'] as const) streams.get(t)?.once('reset', abort);
  try {
    if (version === 1) streams.get('stdin')?.end(); // v1 servers half-close stdin at once
    const resize = streams.has('resize') ? resizeFrom(streams.get('resize')!) : undefined;
    const status = await runSession(
      kind,
      spec,
      backend,
      { stdin: streams.get('stdin'), stdout: streams.get('stdout'), stderr: streams.get('stderr'), resize },
      session.signal,
    );
    if (!status) return;
    const errorStream = streams.get('error')!;
    errorStream.end(statusPayload(version, status));
    await finished(errorStream, { readable: false }).catch(() => undefined);
    opts.log.debug({ kind, protocol, status: status.status, reason: status.reason }, 'streaming session done');
  } finally {
    conn.off('close', abort);
    opts.signal.removeEventListener('abort', abort);
    if (session.signal.aborted) conn.destroy();
    else conn.close();
  }
}

/**
 * Accepts the client's streams until every expected type is there. Resolves
 * undefined (connection torn down) on timeout or if the client goes away.
 */
function collectStreams(
  conn: SpdyConnection,
  expected: StreamType[],
  opts: SpdySessionOptions,
): Promise<Map<StreamType, SpdyStream> | undefined> {
  const got = new Map<StreamType, SpdyStream>();
  return new Promise((resolve) => {
    const done = (result: Map<StreamType, SpdyStream> | undefined) => {
      clearTimeout(timer);
      conn.off('close', onClose);
      opts.signal.removeEventListener('abort', onClose);
      if (!result) conn.destroy();
      resolve(result);
    };
    const onClose = () => done(undefined);
    const timer = setTimeout(() => {
      opts.log.warn({ expected, got: [...got.keys()] }, 'timed out waiting for client to create streams');
      done(undefined);
    }, opts.streamCreationTimeoutMs);
    conn.once('close', onClose);
    opts.signal.addEventListener('abort', onClose);
    conn.on('stream', (stream) => {
      const type = stream.headers['streamtype'] as StreamType | undefined;
      if (type && got.has(type)) return stream.reset(RstStatus.PROTOCOL_ERROR);
      stream.reply();
      // We never read what the client sends on output streams (or unknown ones): drop it.
      if (type !== 'stdin' && type !== 'resize') stream.resume();
      if (!type || !expected.includes(type)) {
        stream.resume();
        return;
      }
      got.set(type, stream);
      if (got.size === expected.length) done(got);
    });
  });
}

function resizeFrom(stream: SpdyStream): ResizeQueue {
  const queue = new ResizeQueue();
  stream.on('data', (chunk: Buffer) => queue.feed(chunk));
  stream.once('end', () => queue.end());
  stream.once('close', () => queue.end());
  return queue;
}
