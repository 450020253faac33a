// The CRI gRPC server: one handler per CRI method, built from the routing
// table. Methods owned by a service are forwarded as raw bytes; Version,
// Status, GetContainerEvents and the streaming URLs (Exec, Attach,
// PortForward) are the gateway's own (rpc/*.ts).
import { Metadata, Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation, type ServiceDefinition } from '@grpc/grpc-js';
import { criMethods, type ServiceName, type BusClient, type CriMethodInfo, type CriusConfig, type Logger } from '@crius/common';
import { StatusRequest, VersionResponse, StatusResponse } from '@crius/common/cri';
import { ImageServiceService, RuntimeServiceService } from '@crius/common/cri-grpc';
import { logOutcome, newContext, toServiceError, type CallContext } from './instrument.js';
import { decodeAndValidate, forwardStream, forwardUnary, type Decoder } from './rpc/forward.js';
import { containerEvents } from './rpc/get-container-events.js';
import { collectHealth, statusFrom } from './rpc/status.js';
import { version } from './rpc/version.js';
import { streamingHandlers } from './rpc/streaming.js';
import type { StreamingServer } from './streaming/index.js';
import { listenUnix, type CriListener } from './h2/listener.js';

type Raw = Buffer;
type UnaryFn = (bytes: Raw, ctx: CallContext) => Promise<Raw>;
/** `live` sends the response headers before the first item (a stream that is ready but may stay quiet). */
type StreamFn = (bytes: Raw, ctx: CallContext, signal: AbortSignal, live: () => void) => AsyncIterable<Raw>;

export interface GatewayDeps {
  bus: BusClient;
  config: CriusConfig;
  log: Logger;
  runtimeVersion: string;
  /** Serves the URLs Exec, Attach and PortForward return; without it they answer UNAVAILABLE. */
  streaming?: StreamingServer;
}

const identity = (b: Buffer) => b;
const DEFINITIONS = { RuntimeService: RuntimeServiceService, ImageService: ImageServiceService } as const;

function rawDefinition(m: CriMethodInfo): { def: ServiceDefinition[string]; decode: Decoder } {
  const original = (DEFINITIONS[m.service] as unknown as Record<string, ServiceDefinition[string]>)[m.key]!;
  const def = {
    ...original,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
  return { def, decode: original.requestDeserialize as Decoder };
}

/** The gateway's own answers, by method name. */
function localUnary(deps: GatewayDeps): Record<string, UnaryFn> {
  const handlers = Object.keys(deps.config.runtime.handlers);
  return {
    Version: async () => Buffer.from(VersionResponse.encode(version(deps.runtimeVersion)).finish()),
    Status: async (bytes, ctx) => {
      const req = StatusRequest.decode(bytes);
      const results = await collectHealth(deps.bus, ctx.deadline);
      return Buffer.from(StatusResponse.encode(statusFrom(results, req.verbose, handlers, deps.config.runtime.default_handler)).finish());
    },
    ...streamingHandlers({ bus: deps.bus, streaming: deps.streaming }),
  };
}

function localStream(deps: GatewayDeps): Record<string, StreamFn> {
  return { GetContainerEvents: (_bytes, _ctx, signal, live) => containerEvents(deps.bus, signal, live) };
}

function unaryHandler(m: CriMethodInfo, fn: UnaryFn, log: Logger) {
  return (call: ServerUnaryCall<Raw, Raw>, callback: sendUnaryData<Raw>) => {
    const ctx = newContext(m.name, call.getDeadline(), log);
    const started = performance.now();
    fn(call.request, ctx).then(
      (reply) => {
        logOutcome(ctx, started);
        callback(null, reply);
      },
      (err) => {
        logOutcome(ctx, started, err);
        callback(toServiceError(err));
      },
    );
  };
}

function streamHandler(m: CriMethodInfo, fn: StreamFn, log: Logger) {
  return (call: ServerWritableStream<Raw, Raw>) => {
    const ctx = newContext(m.name, call.getDeadline(), log);
    const started = performance.now();
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    const live = () => call.sendMetadata(new Metadata());
    void (async () => {
      try {
        for await (const chunk of fn(call.request, ctx, abort.signal, live)) {
          if (abort.signal.aborted) break;
          if (!call.write(chunk)) await new Promise((r) => call.once('drain', r));
        }
        logOutcome(ctx, started);
        call.end();
      } catch (err) {
        logOutcome(ctx, started, err);
        call.emit('error', toServiceError(err));
      }
    })();
  };
}

export function buildServer(deps: GatewayDeps): Server {
  const server = new Server({
    'grpc.max_receive_message_length': deps.config.api.max_msg_size,
    'grpc.max_send_message_length': deps.config.api.max_msg_size,
  });
  const local = localUnary(deps);
  const localStreams = localStream(deps);
  const impls: Record<string, UntypedServiceImplementation> = { RuntimeService: {}, ImageService: {} };
  const defs: Record<string, Record<string, ServiceDefinition[string]>> = { RuntimeService: {}, ImageService: {} };
  for (const m of criMethods()) {
    const { def, decode } = rawDefinition(m);
    defs[m.service]![m.key] = def;
    if (m.serverStreaming) {
      const own = localStreams[m.name];
      const fn: StreamFn = own
        ? (bytes, ctx, signal, live) => {
            decodeAndValidate(m.name, decode, bytes);
            return own(bytes, ctx, signal, live);
          }
        : (bytes, ctx) => forwardStream(deps.bus, serviceOf(m), m.name, decode, bytes, ctx);
      impls[m.service]![m.key] = streamHandler(m, fn, deps.log);
    } else {
      const own = local[m.name];
      const fn: UnaryFn = own
        ? async (bytes, ctx) => {
            decodeAndValidate(m.name, decode, bytes);
            return own(bytes, ctx);
          }
        : (bytes, ctx) => forwardUnary(deps.bus, serviceOf(m), m.name, decode, bytes, ctx);
      impls[m.service]![m.key] = unaryHandler(m, fn, deps.log);
    }
  }
  server.addService(defs.RuntimeService as ServiceDefinition, impls.RuntimeService!);
  server.addService(defs.ImageService as ServiceDefinition, impls.ImageService!);
  return server;
}

/** The service a forwarded method goes to; 'gateway' routes must have a local handler. */
function serviceOf(m: CriMethodInfo): ServiceName {
  if (m.owner === 'gateway') throw new Error(`routing table sends ${m.name} to the gateway but it has no local handler`);
  return m.owner;
}

/**
 * Serves the CRI socket. The gateway owns the listener (not grpc-js's
 * bindAsync) so every connection passes the :authority filter (h2/).
 */
export function listen(server: Server, socketPath: string, log: Logger): Promise<CriListener> {
  return listenUnix(server, socketPath, {
    onMalformed: (err) => log.debug({ err: err.message }, 'closed a CRI connection: malformed HTTP/2'),
    onConnection: (path) => {
      if (path === 'filtered') log.debug('CRI connection with an :authority nghttp2 refuses: its header blocks are rewritten');
    },
  });
}
