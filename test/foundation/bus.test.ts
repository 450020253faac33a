// The bus contract against a real nats-server with the real permissions
// (plus the test's own methods, granted to the gateway only): typed round
// trips, errors as gRPC codes in headers, deadline propagation, no-responder
// and timeout mapping, streamed replies, and refusals that are the server's
// permission violations. The whole user × subject matrix is in
// bus-permissions.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusClient,
  Code,
  DeadlineExceededError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  serveBus,
  stream,
  unary,
  createLogger,
  eventSubject,
  GRANTS,
  InternalError,
  type BusGrants,
  type BusUser,
  type HandlerContext,
} from '@crius/common';
import { ErrorCode, headers, type NatsConnection } from 'nats';
import { HealthRequest, HealthResponse } from '@crius/common/proto/health';
import { startNats, type TestNats } from '../harness/nats.js';

let nats: TestNats;
let gateway: BusClient;
const seen: HandlerContext[] = [];
const log = createLogger('bus-test', 'silent');

const TEST_METHODS = ['Echo', 'Missing', 'Crash', 'Slow', 'Three', 'Nothing', 'EmptyItem', 'BreaksAtTwo', 'Many', 'NotYet', 'Multiline', 'MultilineStream'];
const TEST_GRANTS: Record<BusUser, BusGrants> = {
  ...GRANTS,
  gateway: { ...GRANTS.gateway, calls: { ...GRANTS.gateway.calls, runtime: [...(GRANTS.gateway.calls.runtime ?? []), ...TEST_METHODS], storage: [...(GRANTS.gateway.calls.storage ?? []), 'Anything'] } },
};

/** The next permission violation the server reports to this connection for a publish. */
function nextPublishRefusal(nc: NatsConnection): Promise<string> {
  return (async () => {
    for await (const st of nc.status()) {
      const ctx = (st as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (st.data === ErrorCode.PermissionsViolation && ctx?.operation === 'publish') return ctx.subject;
    }
    throw new Error('connection closed without a permission violation');
  })();
}

beforeAll(async () => {
  nats = await startNats(TEST_GRANTS);
  const runtimeNc = await nats.connect('runtime');
  await serveBus(runtimeNc, {
    service: 'runtime',
    version: '0.0.1',
    log,
    endpoints: {
      Echo: unary(HealthRequest, HealthResponse, async (_req, ctx) => {
        seen.push(ctx);
        return HealthResponse.fromPartial({ service: 'runtime', ready: true, pid: 42 });
      }),
      Missing: unary(HealthRequest, HealthResponse, async () => {
        throw new NotFoundError('container "abc" not found');
      }),
      Crash: unary(HealthRequest, HealthResponse, () => Promise.reject(new TypeError('boom'))),
      // A runc failure: its stderr has several lines.
      Multiline: unary(HealthRequest, HealthResponse, async () => {
        throw new InvalidArgumentError('runc update x: time="..." level=error msg="bad cpuset"\r\nERRO[0000] write cpuset.cpus: invalid argument\n');
      }),
      MultilineStream: stream(HealthRequest, HealthResponse, async function* () {
        yield HealthResponse.fromPartial({ pid: 1 });
        throw new NotFoundError('gone\nfor good');
      }),
      Slow: unary(HealthRequest, HealthResponse, (_req, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', () => r(HealthResponse.fromPartial({}))))),
      Three: stream(HealthRequest, HealthResponse, async function* () {
        for (let pid = 1; pid <= 3; pid++) yield HealthResponse.fromPartial({ pid });
      }),
      Nothing: stream(HealthRequest, HealthResponse, async function* () {}),
      EmptyItem: stream(HealthRequest, HealthResponse, async function* () {
        yield HealthResponse.fromPartial({}); // encodes to zero bytes, still an item
      }),
      BreaksAtTwo: stream(HealthRequest, HealthResponse, async function* () {
        yield HealthResponse.fromPartial({ pid: 1 });
        yield HealthResponse.fromPartial({ pid: 2 });
        throw new NotFoundError('sandbox "p1" vanished mid-list');
      }),
      Many: stream(HealthRequest, HealthResponse, async function* () {
        for (let pid = 1; pid <= 50; pid++) yield HealthResponse.fromPartial({ pid });
      }),
    },
    unimplemented: ['NotYet'],
  });
  gateway = new BusClient(await nats.connect('gateway'));
});
afterAll(async () => nats?.stop());

describe('request/reply', () => {
  it('round-trips typed messages and carries deadline and request id', async () => {
    const deadline = Date.now() + 3000;
    const res = await gateway.call('runtime', 'Echo', HealthRequest, HealthResponse, {}, { deadline, requestId: 'req-1' });
    expect(res).toMatchObject({ service: 'runtime', ready: true, pid: 42 });
    expect(seen.at(-1)).toMatchObject({ requestId: 'req-1', deadline });
  });

  it('turns a thrown crius error into the same error and code', async () => {
    const err = await gateway.call('runtime', 'Missing', HealthRequest, HealthResponse, {}).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(err.message).toBe('container "abc" not found');
  });

  it('turns a rejected promise into INTERNAL, not silence', async () => {
    const err = await gateway.call('runtime', 'Crash', HealthRequest, HealthResponse, {}, { deadline: Date.now() + 2000 }).catch((e) => e);
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toContain('boom');
  });

  it('carries an error whose message has line breaks (a runc stderr), not a hang until the deadline', async () => {
    const err = await gateway.call('runtime', 'Multiline', HealthRequest, HealthResponse, {}, { deadline: Date.now() + 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe('runc update x: time="..." level=error msg="bad cpuset" | ERRO[0000] write cpuset.cpus: invalid argument');
    const streamed = await (async () => {
      for await (const _chunk of gateway.requestStreamRaw('runtime', 'MultilineStream', new Uint8Array(), { deadline: Date.now() + 5000 }));
    })().catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(NotFoundError);
    expect((streamed as Error).message).toBe('gone | for good');
  });

  it('answers UNIMPLEMENTED naming the service for owned but unwired methods', async () => {
    const err = await gateway.call('runtime', 'NotYet', HealthRequest, HealthResponse, {}).catch((e) => e);
    expect(err.code).toBe(Code.UNIMPLEMENTED);
    expect(err.message).toBe('runtime-svc does not implement NotYet yet');
  });

  it('maps no responders to UNAVAILABLE naming the service', async () => {
    const err = await gateway.call('storage', 'Anything', HealthRequest, HealthResponse, {}).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('storage-svc is not running');
  });

  it('maps a passed deadline to DEADLINE_EXCEEDED and aborts the handler', async () => {
    const started = Date.now();
    const err = await gateway.call('runtime', 'Slow', HealthRequest, HealthResponse, {}, { deadline: Date.now() + 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  const collect = async (method: string) => {
    const pids: number[] = [];
    for await (const chunk of gateway.requestStreamRaw('runtime', method, HealthRequest.encode({} as HealthRequest).finish())) {
      pids.push(HealthResponse.decode(chunk).pid);
    }
    return pids;
  };

  it('streams every item, one request per item, each answered once (allow_responses max 1)', async () => {
    expect(await collect('Three')).toEqual([1, 2, 3]);
    expect(await collect('Many')).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('streams nothing for an empty stream, and an item that encodes to no bytes', async () => {
    expect(await collect('Nothing')).toEqual([]);
    expect(await collect('EmptyItem')).toEqual([0]);
  });

  it('ends a stream that fails part way with its error code', async () => {
    const seenPids: number[] = [];
    const err = await (async () => {
      for await (const chunk of gateway.requestStreamRaw('runtime', 'BreaksAtTwo', new Uint8Array())) seenPids.push(HealthResponse.decode(chunk).pid);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('vanished mid-list');
    expect(seenPids).toEqual([1]); // the item after 2 is fetched before 2 is sent, so 2 goes with the error
  });

  it('refuses a request for the next item of a stream that is not open, or through another method', async () => {
    const nc = await nats.connect('gateway');
    const first = await nc.request('crius.v1.runtime.Three', new Uint8Array(), { timeout: 2000 });
    const next = first.headers!.get('Crius-Stream-Next');
    // Paged through the method's own subject: calling the method is what grants it.
    expect(next).toMatch(/^crius\.v1\.runtime\.Three\._next\.\w+$/);
    const notFound = async (subject: string, id: string) => {
      const h = headers();
      h.set('Crius-Stream-Id', id);
      const reply = await nc.request(subject, new Uint8Array(), { timeout: 2000, headers: h });
      return Number(reply.headers!.get('Nats-Service-Error-Code')) === Code.NOT_FOUND;
    };
    expect(await notFound(next, 'no-such-stream')).toBe(true);
    // The open stream's id, asked for through another method's subject of the same instance.
    const id = first.headers!.get('Crius-Stream-Id');
    expect(await notFound(next.replace('.Three.', '.Many.'), id)).toBe(true);
    // Through its own subject the same id still pages on.
    const h = headers();
    h.set('Crius-Stream-Id', id);
    const second = await nc.request(next, new Uint8Array(), { timeout: 2000, headers: h });
    expect(HealthResponse.decode(second.data).pid).toBe(2);
    await nc.close();
  });
});

describe('permissions', () => {
  it('image-svc may not call runtime-svc methods: the server refuses the request, the handler never runs', async () => {
    const before = seen.length;
    const image = new BusClient(await nats.connect('image'));
    const err = await image.call('runtime', 'Echo', HealthRequest, HealthResponse, {}, { deadline: Date.now() + 10_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(err.message).toBe('bus permission denied: this bus user may not call runtime-svc Echo');
    expect(err.cause.code).toBe(ErrorCode.PermissionsViolation);
    expect(err.cause.message).toContain('Permissions Violation for Publish to "crius.v1.runtime.Echo"');
    expect(seen.length).toBe(before);
  });

  it('runtime-svc may call image-svc ImageConfig (its declared dependency): allowed through, so no responder', async () => {
    const runtime = new BusClient(await nats.connect('runtime'));
    // Nobody serves image here: the server let the request through and answers "no responders".
    const err = await runtime.call('image', 'ImageConfig', HealthRequest, HealthResponse, {}).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.cause.code).toBe(ErrorCode.NoResponders);
  });

  it('a service cannot publish events of another kind', async () => {
    const observer = await nats.connect('observer');
    const got: string[] = [];
    let delivered!: () => void;
    const imageEvent = new Promise<void>((r) => (delivered = r));
    const sub = observer.subscribe('crius.v1.events.>', {
      callback: (_e, m) => {
        got.push(m.subject);
        if (m.subject.startsWith('crius.v1.events.image.')) delivered();
      },
    });
    await observer.flush();
    const imageNc = await nats.connect('image');
    const refused = nextPublishRefusal(imageNc);
    imageNc.publish(eventSubject('container', 'forged'), new Uint8Array([1]));
    imageNc.publish(eventSubject('image', 'sha256_abc'), new Uint8Array([1]));
    imageNc.publish('crius.v1.sentinel', new Uint8Array()); // refused to all: the first refusal if the forged one was not
    expect(await refused).toBe('crius.v1.events.container.forged');
    await imageEvent; // published after the forged one, on the same connection: delivered in order
    sub.unsubscribe();
    expect(got).toEqual(['crius.v1.events.image.sha256_abc']);
  });

  it("a service cannot subscribe to another service's requests", async () => {
    const imageNc = await nats.connect('image');
    const err = await new Promise<Error>((resolve, reject) =>
      imageNc.subscribe('crius.v1.runtime.>', { callback: (e) => (e ? resolve(e) : reject(new Error('a runtime request reached image-svc'))) }),
    );
    expect((err as { code?: string }).code).toBe(ErrorCode.PermissionsViolation);
    expect(err.message).toContain('Permissions Violation for Subscription to "crius.v1.runtime.>"');
  });
});
