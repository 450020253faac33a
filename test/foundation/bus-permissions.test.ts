// The bus permission matrix against a real nats-server running the config
// `crius up` writes (nkeys, permissions from grants.ts): every bus user ×
// every subject (each method's request and next-item subjects, events,
// health, stream pipes, inboxes, discovery, wildcards), publish and
// subscribe. A denial counts only as the server's own "Permissions Violation
// for Publish/Subscription to …" delivered to that client (never a timeout or
// no responders); an allowance counts only as a message really delivered.
// The expectations read the grants table the way docs/bus.md states it.
import { randomBytes } from 'node:crypto';
import { ErrorCode, headers, type NatsConnection, type Subscription } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUS_USERS, EVENT_KINDS, GRANTS, PIPE_METHODS, SERVICES, mayCall, methodsOwnedBy, processName, type BusUser, type EventKind, type ServiceName } from '@crius/common';
import { startNats, type TestNats } from '../harness/nats.js';

// ---- the expectation: what docs/bus.md says the table means ----------------

const isService = (x: string): x is ServiceName => (SERVICES as readonly string[]).includes(x);
const isUser = (x: string): x is BusUser => (BUS_USERS as readonly string[]).includes(x);
const opensPipe = (caller: BusUser, callee: ServiceName) => PIPE_METHODS[callee].some((m) => mayCall(caller, callee, m));
const reads = (u: BusUser, kind: string) => GRANTS[u].reads === 'all' || (GRANTS[u].reads as readonly string[]).includes(kind);

function mayPublish(u: BusUser, subject: string): boolean {
  const t = subject.split('.');
  if (t[0] === '$SRV') return GRANTS[u].discovery === true;
  if (t[0] !== 'crius' || t[1] !== 'v1') return false; // inboxes: replies only, through allow_responses
  if (t[2] === 'events') return t.length === 5 && GRANTS[u].publishes.includes(t[3] as EventKind);
  if (t[2] === 'pipe') {
    const [callee, caller, , dir] = t.slice(3);
    if (!isService(callee!) || !isUser(caller!) || !opensPipe(caller, callee)) return false;
    return dir === 'up' ? u === caller : u === callee;
  }
  const svc = t[2]!;
  if (!isService(svc)) return false;
  if (t.length === 4) return mayCall(u, svc, t[3]!);
  return t.length === 6 && t[4] === '_next' && mayCall(u, svc, t[3]!);
}

function maySubscribe(u: BusUser, subject: string, queue?: string): boolean {
  const t = subject.split('.');
  if (t[0]?.startsWith('_INBOX_')) return t[0] === `_INBOX_${u}`;
  if (t[0] === '$SRV') return isService(u) && (t.length === 2 || t[2] === processName(u));
  if (t[0] !== 'crius' || t[1] !== 'v1') return false;
  if (t[2] === 'events') return t.length === 4 && t[3] === '>' ? GRANTS[u].reads === 'all' : reads(u, t[3]!);
  if (t[2] === 'pipe') {
    const [callee, caller, , dir] = t.slice(3);
    if (!isService(callee!) || !isUser(caller!) || !opensPipe(caller, callee)) return false;
    return dir === 'up' ? u === callee : u === caller;
  }
  const svc = t[2]!;
  if (svc !== u || t.some((x) => x === '>' || x === '*')) return false;
  // A service's own methods in its own queue group only; its next-item subjects without one.
  if (t.length === 4) return queue === u;
  return t.length === 6 && t[4] === '_next' && queue === undefined;
}

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

// ---- the probes ------------------------------------------------------------

/** Methods each service serves: its CRI methods, every granted one, Health, endpoints nobody calls, and one that does not exist. */
const UNCALLED: Partial<Record<ServiceName, string[]>> = { storage: ['RootfsInfo', 'ImageFsUsage'], network: ['PodNetworkStatus'] };
function methodsOf(svc: ServiceName): string[] {
  const granted = BUS_USERS.flatMap((u) => GRANTS[u].calls[svc] ?? []);
  return [...new Set([...methodsOwnedBy(svc), ...granted, 'Health', ...(UNCALLED[svc] ?? []), 'NotAMethod'])].sort();
}

const INSTANCE = 'probeinstance';
interface Sub {
  subject: string;
  queue?: string;
}
const pubProbes: string[] = [];
const subProbes: Sub[] = [];
for (const svc of SERVICES) {
  for (const m of methodsOf(svc)) {
    const req = `crius.v1.${svc}.${m}`;
    const next = `${req}._next.${INSTANCE}`;
    pubProbes.push(req, next);
    subProbes.push({ subject: req, queue: svc }, { subject: req }, { subject: req, queue: 'intruders' }, { subject: next });
  }
  subProbes.push({ subject: `crius.v1.${svc}.>` }, { subject: `crius.v1.${svc}.*`, queue: svc === 'image' ? 'storage' : 'image' });
  pubProbes.push(`$SRV.INFO.${processName(svc)}`, `$SRV.STATS.${processName(svc)}.${INSTANCE}`);
  subProbes.push({ subject: `$SRV.INFO.${processName(svc)}` }, { subject: `$SRV.STATS.${processName(svc)}.${INSTANCE}` });
}
for (const kind of EVENT_KINDS) {
  pubProbes.push(`crius.v1.events.${kind}.probe`);
  subProbes.push({ subject: `crius.v1.events.${kind}.>` });
}
subProbes.push({ subject: 'crius.v1.events.>' });
const SID = randomBytes(16).toString('hex');
for (const callee of SERVICES.filter((s) => PIPE_METHODS[s].length > 0)) {
  for (const caller of BUS_USERS) {
    for (const dir of ['up', 'down']) {
      pubProbes.push(`crius.v1.pipe.${callee}.${caller}.${SID}.${dir}`);
      subProbes.push({ subject: `crius.v1.pipe.${callee}.${caller}.${SID}.${dir}` });
    }
  }
}
for (const u of BUS_USERS) {
  pubProbes.push(`_INBOX_${u}.probe`);
  subProbes.push({ subject: `_INBOX_${u}.probe` });
}
pubProbes.push('$SRV.PING');
subProbes.push({ subject: '$SRV.PING' }, { subject: 'crius.v1.pipe.>' }, { subject: 'crius.>' }, { subject: '>' }, { subject: 'crius.v1.*.Health' });

const key = (s: Sub) => (s.queue ? `${s.subject} [${s.queue}]` : s.subject);

// ---- running it ------------------------------------------------------------

interface Observed {
  refusedSubs: Set<string>;
  refusedPubs: Set<string>;
  /** "<subscription> <- <subject> from <publisher>" */
  delivered: string[];
  /** Errors that are not the server's refusal of that subscription. */
  other: string[];
  subs: Map<string, Subscription>;
}

const SENTINEL = 'crius.v1.sentinel';
let nats: TestNats;
const conns = new Map<BusUser, NatsConnection>();
const seen = new Map<BusUser, Observed>();

function refusalsOf(nc: NatsConnection, into: Set<string>, sentinel: string): Promise<void> {
  return (async () => {
    for await (const st of nc.status()) {
      const ctx = (st as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (st.data !== ErrorCode.PermissionsViolation || ctx?.operation !== 'publish') continue;
      if (ctx.subject === sentinel) return;
      into.add(ctx.subject);
    }
  })();
}

beforeAll(async () => {
  nats = await startNats();
  for (const u of BUS_USERS) {
    conns.set(u, await nats.connect(u));
    seen.set(u, { refusedSubs: new Set(), refusedPubs: new Set(), delivered: [], other: [], subs: new Map() });
  }
  // Subscribe: every user every probe. The server answers in order, so once the
  // sentinel's refusal (denied to everyone) arrives, every earlier one has.
  await Promise.all(
    BUS_USERS.map(async (u) => {
      const nc = conns.get(u)!;
      const o = seen.get(u)!;
      for (const s of subProbes) {
        const sub = nc.subscribe(s.subject, {
          ...(s.queue ? { queue: s.queue } : {}),
          callback: (err, msg) => {
            if (err) {
              if ((err as { code?: string }).code === ErrorCode.PermissionsViolation && err.message.includes(`Subscription to "${s.subject}"`)) o.refusedSubs.add(key(s));
              else o.other.push(`${key(s)}: ${err.message}`);
              return;
            }
            o.delivered.push(`${key(s)} <- ${msg.subject} from ${msg.headers?.get('Probe-From')}`);
            if (msg.reply) msg.respond(new TextEncoder().encode(u));
          },
        });
        o.subs.set(key(s), sub);
      }
      await new Promise<void>((resolve) => nc.subscribe(SENTINEL, { callback: (err) => err && resolve() }));
    }),
  );
  // Publish: every user every probe, then the sentinel; then every connection
  // flushes, after which every delivery the server made has arrived.
  await Promise.all(
    BUS_USERS.map(async (u) => {
      const nc = conns.get(u)!;
      const done = refusalsOf(nc, seen.get(u)!.refusedPubs, `${SENTINEL}.${u}`);
      const h = headers();
      h.set('Probe-From', u);
      for (const p of pubProbes) nc.publish(p, new Uint8Array(), { headers: h });
      nc.publish(`${SENTINEL}.${u}`, new Uint8Array());
      await done;
    }),
  );
  await Promise.all([...conns.values()].map((nc) => nc.flush()));
}, 120_000);

afterAll(async () => nats?.stop());

function expectedDeliveries(to: BusUser): string[] {
  const out: string[] = [];
  for (const s of subProbes) {
    if (!maySubscribe(to, s.subject, s.queue)) continue;
    for (const from of BUS_USERS) for (const p of pubProbes) if (mayPublish(from, p) && matches(s.subject, p)) out.push(`${key(s)} <- ${p} from ${from}`);
  }
  return out.sort();
}

describe('bus permission matrix (every user × every subject, real nats-server)', () => {
  it('probes enough of the bus to mean something', () => {
    expect(pubProbes.length).toBeGreaterThan(150);
    expect(subProbes.length).toBeGreaterThan(300);
  });

  for (const u of BUS_USERS) {
    it(`${u}: publishing is refused exactly where the table denies it`, () => {
      const want = pubProbes.filter((p) => !mayPublish(u, p)).sort();
      expect([...seen.get(u)!.refusedPubs].sort()).toEqual(want);
    });

    it(`${u}: subscribing is refused exactly where the table denies it`, () => {
      expect(seen.get(u)!.other).toEqual([]);
      const want = subProbes.filter((s) => !maySubscribe(u, s.subject, s.queue)).map(key).sort();
      expect([...seen.get(u)!.refusedSubs].sort()).toEqual(want);
    });

    it(`${u}: receives exactly what allowed publishers sent to its allowed subscriptions`, () => {
      expect(seen.get(u)!.delivered.sort()).toEqual(expectedDeliveries(u));
    });
  }

  it('holds the cases issue 17 names', () => {
    const refusedPub = (u: BusUser, s: string) => seen.get(u)!.refusedPubs.has(s);
    const refusedSub = (u: BusUser, s: string) => seen.get(u)!.refusedSubs.has(s);
    expect(refusedPub('monitor', 'crius.v1.runtime.CreateContainer')).toBe(true);
    expect(refusedPub('monitor', 'crius.v1.runtime.RecordExit')).toBe(false);
    expect(refusedPub('image', 'crius.v1.storage.ReconcileRootfs')).toBe(true);
    expect(refusedPub('image', 'crius.v1.storage.RemoveRootfs')).toBe(true);
    expect(refusedPub('image', 'crius.v1.storage.EnsureLayers')).toBe(false);
    expect(refusedPub('gateway', 'crius.v1.storage.CreateRootfs')).toBe(true);
    expect(refusedPub('gateway', 'crius.v1.runtime.RunPodSandbox')).toBe(false);
    // network-svc cannot read an exec session, nor every pipe at once; runtime-svc reads its own.
    expect(refusedSub('network', `crius.v1.pipe.runtime.gateway.${SID}.up`)).toBe(true);
    expect(refusedSub('network', 'crius.v1.pipe.>')).toBe(true);
    expect(refusedSub('runtime', `crius.v1.pipe.runtime.gateway.${SID}.up`)).toBe(false);
    // A service answers its own methods only in its queue group.
    expect(refusedSub('runtime', 'crius.v1.runtime.CreateContainer')).toBe(true);
    expect(refusedSub('runtime', 'crius.v1.runtime.CreateContainer [runtime]')).toBe(false);
    expect(refusedSub('image', 'crius.v1.runtime.CreateContainer [runtime]')).toBe(true);
  });

  it('lets each caller get its reply in its own inbox, and each responder answer once', async () => {
    for (const u of BUS_USERS) {
      const calls = Object.entries(GRANTS[u].calls) as [ServiceName, readonly string[]][];
      if (calls.length === 0) continue;
      const [svc, methods] = calls[0]!;
      const reply = await conns.get(u)!.request(`crius.v1.${svc}.${methods[0]}`, new Uint8Array(), { timeout: 10_000 });
      expect(new TextDecoder().decode(reply.data), `${u} → ${svc}.${methods[0]}`).toBe(svc);
    }
    // A second answer to the same request is the server's violation (allow_responses max 1).
    const runtime = conns.get('runtime')!;
    const gateway = conns.get('gateway')!;
    seen.get('runtime')!.subs.get('crius.v1.runtime.RunPodSandbox [runtime]')!.unsubscribe(); // this test answers it now
    const refused = new Set<string>();
    let replyTo = '';
    const answered = new Promise<void>((resolve) => {
      const sub = runtime.subscribe('crius.v1.runtime.RunPodSandbox', {
        queue: 'runtime',
        callback: (_e, msg) => {
          replyTo = msg.reply!;
          msg.respond(new Uint8Array([1]));
          msg.respond(new Uint8Array([2]));
          runtime.publish(`${SENTINEL}.again`, new Uint8Array());
          sub.unsubscribe();
          resolve();
        },
      });
    });
    const done = refusalsOf(runtime, refused, `${SENTINEL}.again`);
    await runtime.flush();
    expect([...(await gateway.request('crius.v1.runtime.RunPodSandbox', new Uint8Array(), { timeout: 10_000 })).data]).toEqual([1]);
    await answered;
    await done;
    expect([...refused]).toEqual([replyTo]);
    expect(replyTo.startsWith('_INBOX_gateway.')).toBe(true);
  });
});
