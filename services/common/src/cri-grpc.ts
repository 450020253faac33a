// CRI over grpc-js: service definitions and typed clients built from the
// plain service definitions ts-proto generates. Only the processes that speak
// gRPC import this (the gateway, the CLI, tests and benches); the services
// import '@crius/common/cri' for the messages alone and never load grpc-js.
import {
  makeGenericClientConstructor,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type Metadata,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { ImageServiceDefinition, RuntimeServiceDefinition } from './gen/cri/runtime/v1/api.js';

/** Any generated message's functions (the message type itself does not matter here). */
interface AnyCodec {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  encode(message: any): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
}

interface MethodDef {
  name: string;
  requestType: AnyCodec;
  requestStream: boolean;
  responseType: AnyCodec;
  responseStream: boolean;
}

interface GenericServiceDefinition {
  name: string;
  fullName: string;
  methods: Record<string, MethodDef>;
}

type MessageOf<C> = C extends { decode(input: Uint8Array): infer M } ? M : never;
type Req<M> = M extends { requestType: infer C } ? MessageOf<C> : never;
type Res<M> = M extends { responseType: infer C } ? MessageOf<C> : never;
type Callback<R> = (error: ServiceError | null, response: R) => void;

/** A grpc-js client method as ts-proto's grpc-js output typed it (last overload: request, metadata, options, callback). */
type ClientMethod<M> = M extends { responseStream: true }
  ? {
      (request: Req<M>, options?: Partial<CallOptions>): ClientReadableStream<Res<M>>;
      (request: Req<M>, metadata?: Metadata, options?: Partial<CallOptions>): ClientReadableStream<Res<M>>;
    }
  : {
      (request: Req<M>, callback: Callback<Res<M>>): ClientUnaryCall;
      (request: Req<M>, metadata: Metadata, callback: Callback<Res<M>>): ClientUnaryCall;
      (request: Req<M>, metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res<M>>): ClientUnaryCall;
    };

/** A typed grpc-js client of one CRI service. */
export type CriServiceClient<D extends GenericServiceDefinition> = Client & { [K in keyof D['methods']]: ClientMethod<D['methods'][K]> };

type ClientConstructor<D extends GenericServiceDefinition> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => CriServiceClient<D>;

/** The grpc-js form of a generated service definition: paths, stream flags, protobuf (de)serialisers. */
export function grpcServiceDefinition<D extends GenericServiceDefinition>(def: D): ServiceDefinition & Record<keyof D['methods'], ServiceDefinition[string]> {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [key, m] of Object.entries(def.methods)) {
    const req = m.requestType;
    const res = m.responseType;
    out[key] = {
      path: `/${def.fullName}/${m.name}`,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: (value: unknown) => Buffer.from(req.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => req.decode(bytes),
      responseSerialize: (value: unknown) => Buffer.from(res.encode(value).finish()),
      responseDeserialize: (bytes: Buffer) => res.decode(bytes),
      originalName: key,
    };
  }
  return out as ServiceDefinition & Record<keyof D['methods'], ServiceDefinition[string]>;
}

function clientConstructor<D extends GenericServiceDefinition>(def: D): ClientConstructor<D> {
  return makeGenericClientConstructor(grpcServiceDefinition(def), def.fullName) as unknown as ClientConstructor<D>;
}

export const RuntimeServiceService = grpcServiceDefinition(RuntimeServiceDefinition);
export const ImageServiceService = grpcServiceDefinition(ImageServiceDefinition);

export type RuntimeServiceClient = CriServiceClient<typeof RuntimeServiceDefinition>;
export const RuntimeServiceClient = clientConstructor(RuntimeServiceDefinition);
export type ImageServiceClient = CriServiceClient<typeof ImageServiceDefinition>;
export const ImageServiceClient = clientConstructor(ImageServiceDefinition);
