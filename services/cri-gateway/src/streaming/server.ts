// The gateway's streaming server: the HTTP(S) endpoint behind the URLs that
// Exec, Attach and PortForward return. Routes /exec|attach|portforward/<token>,
// consumes the token, negotiates the stream protocol and upgrades to SPDY/3.1
// or WebSocket, then hands the session to the protocol modules. Owned by
// cri-gateway; the sessions themselves run in the StreamingBackend.
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { UnavailableError } from '@crius/common';
import { silentLog, type AttachSpec, type ExecSpec, type PortForwardSpec, type StreamingBackend, type StreamingLog } from './backend.js';
import { SPDY_PORTFORWARD_PROTOCOLS, WS_PORTFORWARD_PROTOCOLS, parsePort, servePortForwardOverSpdy, servePortForwardOverWebSocket } from './portforward.js';
import { SPDY_REMOTECOMMAND_PROTOCOLS, WS_REMOTECOMMAND_PROTOCOLS } from './remotecommand.js';
import { serveRemoteCommandOverSpdy } from './remotecommand-spdy.js';
import { serveRemoteCommandOverWebSocket } from './remotecommand-ws.js';
import { SpdyConnection } from './spdy/connection.js';
import { TokenStore, type StreamKind, type StreamRequest } from './tokens.js';

export interface StreamingServerOptions {
  backend: StreamingBackend;
  /** Listen address. Default 127.0.0.1 (the gateway runs unprivileged; expose it deliberately). */
  address?: string;
  /** Listen port. Default 10010; 0 picks a free port. */
  port?: number;
  /** Serve HTTPS with this PEM key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  /** Base of returned URLs when clients reach the server under another name. Default scheme://address:port. */
  baseUrl?: string;
  /** Lifetime of an unused URL. Default 60 s. */
  tokenTtlMs?: number;
  /** Unused URLs held at most. Default 1000. */
  maxPendingTokens?: number;
  /** Time a SPDY client has to open its streams. Default 30 s. */
  streamCreationTimeoutMs?: number;
  /** Close a session's connection after this long without traffic. Default 4 h. */
  idleTimeoutMs?: number;
  log?: StreamingLog;
}

const ROUTE = /\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;
const MAX_WS_MESSAGE = 4 * 1024 * 1024;

export class StreamingServer {
  private readonly backend: StreamingBackend;
  private readonly tokens: TokenStore;
  private readonly log: StreamingLog;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE, handleProtocols: (_p, req) => this.wsProtocol.get(req) ?? false });
  private readonly wsProtocol = new WeakMap<IncomingMessage, string>();
  private readonly sockets = new Set<Socket>();
  private readonly stopping = new AbortController();
  private readonly streamCreationTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private boundPort: number | undefined;
  private sessions = 0;

  constructor(private readonly opts: StreamingServerOptions) {
    this.backend = opts.backend;
    this.log = opts.log ?? silentLog;
    this.tokens = new TokenStore({ ttlMs: opts.tokenTtlMs, maxPending: opts.maxPendingTokens });
    this.streamCreationTimeoutMs = opts.streamCreationTimeoutMs ?? 30_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 4 * 3600_000;
    // Any Host, or none: clients reach this server by URL token, and Go's
    // streaming clients may send a socket path or nothing as Host (issue 15).
    const http = { requireHostHeader: false };
    this.server = opts.tls ? createHttpsServer({ ...http, key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca }) : createHttpServer(http);
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket as Socket, head));
    this.server.on('clientError', (_err, socket: Duplex) => reject(socket, 400, 'malformed HTTP request'));
    this.server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts listening; resolves once the port is bound. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 10010, this.opts.address ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : undefined;
    this.log.info({ url: this.baseUrl }, 'streaming server listening');
  }

  /** The scheme://host:port every returned URL starts with. */
  get baseUrl(): string {
    if (this.opts.baseUrl) return this.opts.baseUrl.replace(/\/+$/, '');
    const port = this.boundPort ?? this.opts.port ?? 10010;
    if (port === 0) throw new UnavailableError('streaming server is not listening yet: no URL to hand out');
    const host = this.opts.address ?? '127.0.0.1';
    return `${this.opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Sessions currently running (upgraded connections). */
  get activeSessions(): number {
    return this.sessions;
  }

  /**
   * A single-use URL for one streaming request, for the Exec/Attach/PortForward
   * RPC responses. Throws InvalidArgumentError for a request the kubelet would
   * refuse, ResourceExhaustedError when too many URLs are pending.
   */
  getUrl(kind: 'exec', req: ExecSpec): string;
  getUrl(kind: 'attach', req: AttachSpec): string;
  getUrl(kind: 'portforward', req: PortForwardSpec): string;
  getUrl(kind: StreamKind, spec: ExecSpec | AttachSpec | PortForwardSpec): string {
    const base = this.baseUrl;
    const token = this.tokens.insert({ kind, spec } as StreamRequest);
    return `${base}/${kind}/${token}`;
  }

  /** Stops listening and tears down every session (their backends see the abort). */
  async stop(): Promise<void> {
    this.stopping.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    for (const ws of this.wss.clients) ws.terminate();
    await closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const found = this.lookup(req);
    if (typeof found === 'number') {
      res.writeHead(found, { 'content-type': 'text/plain; charset=utf-8' }).end(`${STATUS_CODES[found]}\n`);
      return;
    }
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('unable to upgrade: missing upgrade headers in request\n');
  }

  /** Route + token: the stored request, or the HTTP status to answer with. */
  private lookup(req: IncomingMessage): StreamRequest | number {
    const path = new URL(req.url ?? '/', 'http://streaming').pathname;
    const m = ROUTE.exec(path);
    if (!m) return 404;
    if (req.method !== 'GET' && req.method !== 'POST') return 405;
    const request = this.tokens.consume(m[2]!);
    if (!request || request.kind !== m[1]) return 404; // unknown, used or expired
    return request;
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined); // a client resetting mid-handshake is not our error
    const request = this.lookup(req);
    if (typeof request === 'number') return reject(socket, request, STATUS_CODES[request] ?? 'error');
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'spdy/3.1') return this.upgradeSpdy(req, socket, head, request);
    if (upgrade === 'websocket') return this.upgradeWebSocket(req, socket, head, request);
    reject(socket, 400, `unable to upgrade: unsupported upgrade protocol ${JSON.stringify(req.headers.upgrade ?? '')}`);
  }

  private upgradeSpdy(req: IncomingMessage, socket: Socket, head: Buffer, request: StreamRequest): void {
    const serverProtocols = request.kind === 'portforward' ? SPDY_PORTFORWARD_PROTOCOLS : SPDY_REMOTECOMMAND_PROTOCOLS;
    const offered = headerList(req.headersDistinct['x-stream-protocol-version']);
    // No header at all is an old client: it speaks the first protocol version.
    const protocol = offered.length === 0 ? '' : offered.find((p) => serverProtocols.includes(p));
    if (protocol === undefined) {
      const msg = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${serverProtocols.join(' ')}]`;
      return reject(socket, 403, msg, serverProtocols.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`));
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        (protocol ? `X-Stream-Protocol-Version: ${protocol}\r\n` : '') +
        '\r\n',
    );
    socket.setNoDelay(true);
    const conn = new SpdyConnection(socket, head);
    const opts = { streamCreationTimeoutMs: this.streamCreationTimeoutMs, log: this.log, signal: this.stopping.signal };
    this.track(request, 'spdy', protocol, socket, () =>
      request.kind === 'portforward'
        ? servePortForwardOverSpdy(conn, request.spec, this.backend, opts)
        : serveRemoteCommandOverSpdy(conn, protocol, request.kind, request.spec, this.backend, opts),
    );
  }

  private upgradeWebSocket(req: IncomingMessage, socket: Socket, head: Buffer, request: StreamRequest): void {
    const serverProtocols = request.kind === 'portforward' ? WS_PORTFORWARD_PROTOCOLS : WS_REMOTECOMMAND_PROTOCOLS;
    const offered = headerList(req.headersDistinct['sec-websocket-protocol']);
    const protocol = offered.length === 0 ? '' : offered.find((p) => serverProtocols.includes(p));
    if (protocol === undefined) {
      return reject(socket, 403, `unable to upgrade: no supported WebSocket subprotocol in [${offered.join(' ')}], server accepts [${serverProtocols.join(' ')}]`);
    }
    let spec = request.spec;
    if (request.kind === 'portforward' && request.spec.ports.length === 0) {
      const ports = portsFromQuery(req);
      if (!ports) return reject(socket, 400, 'port-forward over WebSocket needs ports: query parameter "port" missing or invalid');
      spec = { ...request.spec, ports };
    }
    this.wsProtocol.set(req, protocol);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      socket.setNoDelay(true);
      const opts = { streamCreationTimeoutMs: this.streamCreationTimeoutMs, log: this.log, signal: this.stopping.signal };
      this.track(request, 'websocket', protocol, socket, () =>
        request.kind === 'portforward'
          ? servePortForwardOverWebSocket(ws, spec as PortForwardSpec, this.backend, opts)
          : serveRemoteCommandOverWebSocket(ws, protocol, request.kind, spec as ExecSpec | AttachSpec, this.backend, opts),
      );
    });
  }

  private track(request: StreamRequest, transport: string, protocol: string, socket: Socket, run: () => Promise<void>): void {
    this.sessions++;
    const target = request.kind === 'portforward' ? request.spec.podSandboxId : request.spec.containerId;
    const fields = { kind: request.kind, target, transport, protocol, remote: socket.remoteAddress };
    this.log.info(fields, 'streaming session started');
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
    run()
      .catch((err: Error) => this.log.warn({ ...fields, err: err.message }, 'streaming session failed'))
      .finally(() => {
        this.sessions--;
        this.log.info(fields, 'streaming session ended');
      });
  }
}

/** All values of a header that may repeat and may hold comma-separated lists. */
function headerList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

function portsFromQuery(req: IncomingMessage): number[] | undefined {
  const q = new URL(req.url ?? '/', 'http://streaming').searchParams;
  const raw = [...q.getAll('port'), ...q.getAll('ports')].flatMap((v) => v.split(','));
  const ports = raw.map((p) => parsePort(p.trim()));
  if (ports.length === 0 || ports.some((p) => p === undefined)) return undefined;
  return ports as number[];
}

/** Answers an upgrade request with a plain HTTP error and closes the connection. */
function reject(socket: Duplex, status: number, message: string, extraHeaders: string[] = []): void {
  if (!socket.writable) return void socket.destroy();
  const body = `${message}\n`;
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extraHeaders,
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  // Let the client read the answer, but do not keep a half-open socket around.
  setTimeout(() => socket.destroy(), 1000).unref();
}
