// A CRI client for any endpoint (ours or another runtime's socket), with
// promise-returning calls and one-line errors that name the endpoint.
import { credentials, type CallOptions, type ServiceError, type Client } from '@grpc/grpc-js';
import { ImageServiceClient, RuntimeServiceClient } from '@crius/common/cri-grpc';

export interface CriClient {
  runtime: RuntimeServiceClient;
  image: ImageServiceClient;
  endpoint: string;
  close(): void;
}

export function endpointUrl(endpoint: string): string {
  return endpoint.includes('://') ? endpoint : `unix://${endpoint}`;
}

export function connectCri(endpoint: string): CriClient {
  const url = endpointUrl(endpoint);
  const opts = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
  const runtime = new RuntimeServiceClient(url, credentials.createInsecure(), opts);
  const image = new ImageServiceClient(url, credentials.createInsecure(), opts);
  return { runtime, image, endpoint: url, close: () => [runtime, image].forEach((c) => c.close()) };
}

type UnaryMethod<Req, Res> = (req: Req, meta: never, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Call a unary method with a deadline; rejects with the gRPC error. */
export function callUnary<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    (method as unknown as (...a: unknown[]) => unknown).call(client, req, { deadline }, (err: ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
