// The CRI socket's listener. The gateway accepts unix-socket connections
// itself and hands each one to grpc-js through a connection injector, so that
// clients sending the socket path (or nothing) as :authority are served
// instead of reset by nghttp2 (see authority-filter.ts). Owned by cri-gateway.
//
// Every byte a JavaScript stream carries costs (node:http2 wraps it in a
// JSStreamSocket: about 50 µs more per unary call, half the streaming
// throughput), so a connection goes through the filter only when it needs to.
// Until its first request the gateway reads the connection itself, having
// answered the client's preface with an empty SETTINGS frame (gRPC clients
// wait for one); it then hands the socket itself to node:http2 when that
// request's authority was valid, and the filtered stream otherwise. A gRPC
// channel sends one authority on every call, so the first request speaks for
// the connection; a client that changed it to an invalid one later on a
// connection it started validly would see those later streams reset.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { AuthorityFilter, FRAME_TYPES } from './authority-filter.js';

export interface CriListener {
  /** Stops accepting; drops connections not yet handed to grpc-js (grpc-js closes its own). */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Told about connections closed because their bytes broke HTTP/2 or HPACK. */
  onMalformed?: (err: Error) => void;
  /** Told how each connection went to grpc-js: the socket itself, or through the filter. */
  onConnection?: (path: 'direct' | 'filtered') => void;
}

/** An empty SETTINGS frame: a valid server preface, announcing the defaults. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, FRAME_TYPES.SETTINGS, 0, 0, 0, 0, 0]);
/** Client bytes held before the first request decides the connection's path. */
const MAX_HELD = 1024 * 1024;

/** Serves `server` on a unix socket at `socketPath` (which must not exist). */
export async function listenUnix(server: Server, socketPath: string, opts: ListenOptions = {}): Promise<CriListener> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const waiting = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    waiting.add(socket);
    classify(socket, opts.onMalformed, (conn) => {
      waiting.delete(socket);
      opts.onConnection?.(conn === socket ? 'direct' : 'filtered');
      injector.injectConnection(conn);
    });
    socket.once('close', () => waiting.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(socketPath, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => resolve());
        for (const s of waiting) s.destroy();
      }),
  };
}

/**
 * Reads a fresh connection up to its first request and hands over either the
 * socket itself (with what was read put back) or a FilteredConnection.
 */
function classify(socket: net.Socket, onMalformed: ((err: Error) => void) | undefined, handOver: (conn: Duplex) => void): void {
  const filter = new AuthorityFilter({ dropFirstSettingsAck: true });
  const held: Buffer[] = [];
  let heldBytes = 0;
  // Frames the server must answer (or should see at once) end the wait.
  let needsServer = false;
  filter.onFrame = (type) => {
    if (type === FRAME_TYPES.PING || type === FRAME_TYPES.GOAWAY || type === FRAME_TYPES.RST_STREAM) needsServer = true;
  };
  const onData = (chunk: Buffer) => {
    let out: Buffer[];
    try {
      out = filter.push(chunk);
    } catch (err) {
      onMalformed?.(err as Error);
      socket.destroy();
      return;
    }
    for (const b of out) {
      held.push(b);
      heldBytes += b.length;
    }
    if (filter.reencoding || needsServer || heldBytes > MAX_HELD) {
      stopReading();
      handOver(new FilteredConnection(socket, filter, held, onMalformed));
    } else if (filter.headerBlocks > 0 && filter.settingsAckDropped) {
      // The first request was fine: node:http2 gets the socket, reading the held bytes first.
      stopReading();
      held.push(...filter.release());
      socket.unshift(Buffer.concat(held));
      handOver(socket);
    }
  };
  const onError = () => socket.destroy();
  const stopReading = () => {
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.write(EMPTY_SETTINGS);
}

/**
 * A connection as the Duplex grpc-js (node:http2) reads from and writes to:
 * reads are the socket's bytes after the filter, writes go to the socket
 * unchanged. Back-pressure is passed both ways.
 */
export class FilteredConnection extends Duplex {
  private drained: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly headerFilter: AuthorityFilter,
    first: Buffer[],
    onMalformed?: (err: Error) => void,
  ) {
    super({ allowHalfOpen: false });
    for (const b of first) this.push(b);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let out: Buffer[];
      try {
        out = this.headerFilter.push(chunk);
      } catch (err) {
        onMalformed?.(err as Error);
        this.destroy();
        return;
      }
      let more = true;
      for (const b of out) more = this.push(b);
      if (!more) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.drained?.());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Done as soon as the socket takes it; wait for 'drain' only when it is full.
    if (this.socket.write(chunk)) cb();
    else this.drained = () => ((this.drained = undefined), cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.socket.cork();
    let ok = true;
    for (const c of chunks) ok = this.socket.write(c.chunk);
    this.socket.uncork();
    if (ok) cb();
    else this.drained = () => ((this.drained = undefined), cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
