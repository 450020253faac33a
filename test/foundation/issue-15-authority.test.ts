// Issue 15: gRPC clients that send the socket's own path as HTTP/2
// :authority (the kubelet's CRI client up to Kubernetes 1.26, grpc-java,
// older grpcurl), a `host` header instead, or no authority at all, got every
// call reset by Node's HTTP/2 layer; containerd and CRI-O answer them. A bare
// HTTP/2 client (test/harness/raw-h2.ts, its own frames and header encoding)
// sends exactly those requests to a real stack and checks the gRPC answers.
import { afterEach, describe, expect, it } from 'vitest';
import { Client, credentials, type Client as GrpcClient } from '@grpc/grpc-js';
import {
  ContainerEventResponse,
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  StreamPodSandboxesRequest,
  StreamPodSandboxesResponse,
  VersionRequest,
  VersionResponse,
} from '@crius/common/cri';
import { useStack, type TestStack } from '../harness/stack.js';
import { cri, podConfig } from '../harness/pod.js';
import { F, RawH2Client, T, field, frame, grpcRequestFields, indexed, literal, literalIndexedName, type StreamState } from '../harness/raw-h2.js';

let s: TestStack;
let client: GrpcClient;
useStack((stack, c) => {
  s = stack;
  client = c;
});

const VERSION = '/runtime.v1.RuntimeService/Version';
const LIST_PODS = '/runtime.v1.RuntimeService/ListPodSandbox';
const STREAM_PODS = '/runtime.v1.RuntimeService/StreamPodSandboxes';
const EVENTS = '/runtime.v1.RuntimeService/GetContainerEvents';
const versionBody = () => VersionRequest.encode({ version: 'v1' }).finish();

const open: (RawH2Client | GrpcClient)[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function connect(): Promise<RawH2Client> {
  const c = await RawH2Client.connect(s.config.api.listen);
  open.push(c);
  return c;
}

function expectOk(r: StreamState): void {
  expect(field(r.headers, ':status')).toBe('200');
  expect(field(r.trailers, 'grpc-status'), `grpc-message: ${field(r.trailers, 'grpc-message')}`).toBe('0');
}

async function expectVersion(c: RawH2Client, stream: number): Promise<void> {
  const r = await c.response(stream);
  expectOk(r);
  expect(r.messages).toHaveLength(1);
  expect(VersionResponse.decode(r.messages[0]!)).toMatchObject({ runtimeName: 'crius', runtimeApiVersion: 'v1', version: '0.1.0' });
}

describe('issue 15: any :authority works on the CRI socket', () => {
  it('answers Version to a request whose :authority is the socket path, as a plain literal', async () => {
    const c = await connect();
    const id = c.stream();
    c.call(id, grpcRequestFields(VERSION, literal(':authority', s.config.api.listen)), versionBody());
    await expectVersion(c, id);
  });

  it('answers when the socket path is Huffman-coded', async () => {
    const c = await connect();
    const id = c.stream();
    c.call(id, grpcRequestFields(VERSION, literalIndexedName(1, s.config.api.listen, { huffman: true })), versionBody());
    await expectVersion(c, id);
  });

  it('answers when the authority comes in CONTINUATION frames, cut in the middle of its value', async () => {
    const c = await connect();
    const before = grpcRequestFields(VERSION).indexOf(literalIndexedName(31, 'application/grpc'));
    const block = grpcRequestFields(VERSION, literalIndexedName(1, s.config.api.listen));
    const id = c.stream();
    // HEADERS: method, scheme, path; CONTINUATION: the authority's first bytes; CONTINUATION: the rest.
    c.call(id, block, versionBody(), [before, before + 6]);
    await expectVersion(c, id);
  });

  it('answers every stream that refers to a socket-path authority kept in the dynamic table', async () => {
    const c = await connect();
    const first = c.stream();
    c.call(first, grpcRequestFields(VERSION, literalIndexedName(1, s.config.api.listen, { indexing: 'incremental' })), versionBody());
    await expectVersion(c, first);
    for (let i = 0; i < 3; i++) {
      const next = c.stream();
      c.call(next, grpcRequestFields(VERSION, indexed(62)), versionBody()); // 62: the newest (only) dynamic entry
      await expectVersion(c, next);
    }
  });

  it('answers a request that names the socket in a host header instead of :authority', async () => {
    const c = await connect();
    const id = c.stream();
    c.call(id, grpcRequestFields(VERSION, literalIndexedName(38, s.config.api.listen)), versionBody());
    await expectVersion(c, id);
  });

  it('answers a request with no authority at all, and one with an empty :authority', async () => {
    const c = await connect();
    const none = c.stream();
    c.call(none, grpcRequestFields(VERSION), versionBody());
    await expectVersion(c, none);
    const empty = c.stream();
    c.call(empty, grpcRequestFields(VERSION, indexed(1)), versionBody());
    await expectVersion(c, empty);
  });

  it('serves service-owned and server-streaming RPCs: ListPodSandbox, StreamPodSandboxes, GetContainerEvents', async () => {
    const c = await connect();
    const authority = literalIndexedName(1, s.config.api.listen, { indexing: 'incremental', huffman: true });
    // The event stream first, so the pod below produces events on it.
    const events = c.stream();
    c.call(events, grpcRequestFields(EVENTS, authority), new Uint8Array(0));
    const pod = await podConfig(s.dir);
    const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config: pod });

    const list = c.stream();
    c.call(list, grpcRequestFields(LIST_PODS, indexed(62)), ListPodSandboxRequest.encode(ListPodSandboxRequest.fromPartial({})).finish());
    const listed = await c.response(list);
    expectOk(listed);
    expect(ListPodSandboxResponse.decode(listed.messages[0]!).items.map((p) => p.id)).toContain(podSandboxId);

    const streamed = c.stream();
    c.call(streamed, grpcRequestFields(STREAM_PODS, indexed(62)), StreamPodSandboxesRequest.encode(StreamPodSandboxesRequest.fromPartial({})).finish());
    const sr = await c.response(streamed);
    expectOk(sr);
    const ids = sr.messages.flatMap((m) => StreamPodSandboxesResponse.decode(m).podSandboxes.map((p) => p.id));
    expect(ids).toContain(podSandboxId);

    // Events of this pod arrive on the open stream; removing the pod adds its DELETED event.
    await cri(client, 'StopPodSandbox', { podSandboxId });
    await cri(client, 'RemovePodSandbox', { podSandboxId });
    const withDeleted = await c.until(events, (st) =>
      st.messages.some((m) => {
        const ev = ContainerEventResponse.decode(m);
        return ev.containerId === podSandboxId && ev.containerEventType === 3;
      }),
    );
    expect(field(withDeleted.headers, ':status')).toBe('200');
    // The client cancels the stream; the connection keeps serving.
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(0x8, 0);
    c.write(frame(T.RST_STREAM, 0, events, cancel));
    const after = c.stream();
    c.call(after, grpcRequestFields(VERSION, indexed(62)), versionBody());
    await expectVersion(c, after);
  });

  it('answers many concurrent streams on one connection, sent in one write', async () => {
    const c = await connect();
    const calls: { id: number; method: string }[] = [];
    const bytes: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const id = c.stream();
      const method = i % 2 === 0 ? VERSION : LIST_PODS;
      // Literal, Huffman-coded, indexed-again and host forms, interleaved.
      const authority = [
        literalIndexedName(1, s.config.api.listen, { indexing: 'incremental' }),
        indexed(62),
        literalIndexedName(1, s.config.api.listen, { huffman: true }),
        literalIndexedName(38, s.config.api.listen),
      ][i % 4]!;
      const body = method === VERSION ? versionBody() : ListPodSandboxRequest.encode(ListPodSandboxRequest.fromPartial({})).finish();
      const hdr = Buffer.alloc(5);
      hdr.writeUInt32BE(body.length, 1);
      bytes.push(frame(T.HEADERS, F.END_HEADERS, id, grpcRequestFields(method, authority)), frame(T.DATA, F.END_STREAM, id, Buffer.concat([hdr, body])));
      calls.push({ id, method });
    }
    c.write(Buffer.concat(bytes));
    for (const { id, method } of calls) {
      const r = await c.response(id);
      expectOk(r);
      if (method === VERSION) expect(VersionResponse.decode(r.messages[0]!).runtimeName).toBe('crius');
      else expect(ListPodSandboxResponse.decode(r.messages[0]!).items).toBeInstanceOf(Array);
    }
  });

  it('answers a grpc-js client told to use the socket path as its authority', async () => {
    const g = new Client(`unix://${s.config.api.listen}`, credentials.createInsecure(), { 'grpc.default_authority': s.config.api.listen });
    open.push(g);
    const reply = await new Promise<Buffer>((resolve, reject) =>
      g.makeUnaryRequest(VERSION, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(versionBody()), (e, r) => (e ? reject(e) : resolve(r!))),
    );
    expect(VersionResponse.decode(reply).runtimeName).toBe('crius');
  });

  it('closes a connection that breaks HTTP/2 and keeps serving the others', async () => {
    const bad = await connect();
    const first = bad.stream();
    bad.call(first, grpcRequestFields(VERSION, literal(':authority', s.config.api.listen)), versionBody());
    await expectVersion(bad, first);
    // A header block that is not HPACK (index 0).
    bad.write(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, bad.stream(), Buffer.from([0x80])));
    await bad.ended();
    const good = await connect();
    const ok = good.stream();
    good.call(ok, grpcRequestFields(VERSION, literal(':authority', s.config.api.listen)), versionBody());
    await expectVersion(good, ok);
  });
});
