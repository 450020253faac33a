// The CRI gRPC server: one handler per CRI method, built from the routing
// table. Methods owned by a service are forwarded as raw bytes; Version,
// Status, GetContainerEvents and the streaming URLs (Exec, Attach,
// PortForward) are the gateway's own (rpc/*.ts).
import { Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation, type ServiceDefinition } from '@grpc/grpc-js';
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

type Raw = Buffer;
type UnaryFn = (bytes: Raw, ctx: CallContext) => Promise<Raw>;
type StreamFn = (bytes: Raw, ctx: CallContext, signal: AbortSignal) => AsyncIterable<Raw>;

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
  return { GetContainerEvents: (_bytes, _ctx, signal) => containerEvents(deps.bus, signal) };
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
    void (async () => {
      try {
        for await (const chunk of fn(call.request, ctx, abort.signal)) {
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
        ? (bytes, ctx, signal) => {
            decodeAndValidate(m.name, decode, bytes);
            return own(bytes, ctx, signal);
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

export async function listen(server: Server, socketPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
}
