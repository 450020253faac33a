// The grants table against the code: every bus call, event published and
// event subscription in the services' sources must be granted to the bus
// user that process runs as, and nothing else may be granted (the gateway's
// CRI forwards come from the routing table). What nats-server makes of the
// table is tested against a real server in test/foundation/bus-permissions.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GRANTS, PIPE_METHODS, mayCall } from './grants.js';
import { criMethods } from './routes.js';
import { BUS_USERS, EVENT_KINDS, SERVICES, type BusUser, type EventKind, type ServiceName } from './subjects.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** The bus user each source tree runs as; the CLI is the launcher unless a file connects as another user. */
const TREES: [string, BusUser][] = [
  ['services/cri-gateway/src', 'gateway'],
  ...SERVICES.map((s): [string, BusUser] => [`services/${s}-svc/src`, s]),
  ['services/cli/src', 'launcher'],
  ['deploy/libexec', 'launcher'],
];

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name) && !/\.test\.ts$|\.d\.ts$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !f.includes(`${path.sep}testing${path.sep}`) && !f.includes(`${path.sep}test-support${path.sep}`));
}

interface Found {
  calls: Map<BusUser, Set<string>>; // "service.Method"
  publishes: Map<BusUser, Set<EventKind>>;
  reads: Map<BusUser, Set<string>>; // kind, or '>' for the whole tree
  where: Map<string, string>;
}

const SERVICE = `(${SERVICES.join('|')})`;

function scan(): Found {
  const found: Found = { calls: new Map(), publishes: new Map(), reads: new Map(), where: new Map() };
  const add = <T>(m: Map<BusUser, Set<T>>, u: BusUser, v: T, file: string, line: number) => {
    (m.get(u) ?? m.set(u, new Set()).get(u)!).add(v);
    found.where.set(`${u} ${String(v)}`, `${path.relative(REPO, file)}:${line}`);
  };
  for (const [dir, defaultUser] of TREES) {
    for (const file of sources(dir)) {
      const text = readFileSync(file, 'utf8');
      const user = (/connectBus\(\{[^}]*user: '(\w+)'/.exec(text)?.[1] as BusUser | undefined) ?? defaultUser;
      const lineOf = (i: number) => text.slice(0, i).split('\n').length;
      // bus.call('storage', 'RemoveRootfs', …), this.open('runtime', 'ExecSession', …), across lines
      // too; not the session side naming its own method (sessionAddress).
      for (const m of text.matchAll(new RegExp(`(?<!sessionAddress)\\(\\s*'${SERVICE}',\\s*'([A-Z]\\w*)'`, 'g'))) add(found.calls, user, `${m[1]}.${m[2]}`, file, lineOf(m.index));
      // bus.call(service, 'Health', …) over a variable: a loop over every service.
      for (const m of text.matchAll(/\.(?:call|requestRaw|requestStreamRaw)\(\s*([a-z]\w*),\s*'([A-Z]\w*)'/g)) {
        for (const s of SERVICES) add(found.calls, user, `${s}.${m[2]}`, file, lineOf(m.index));
      }
      // Raw requests: nc.request('crius.v1.runtime.Health', …).
      for (const m of text.matchAll(new RegExp(`\\.request\\(\\s*'crius\\.v1\\.${SERVICE}\\.([A-Z]\\w*)'`, 'g'))) add(found.calls, user, `${m[1]}.${m[2]}`, file, lineOf(m.index));
      for (const m of text.matchAll(/(?:publishEvent|eventSubject)\(\s*'(\w+)'/g)) add(found.publishes, user, m[1] as EventKind, file, lineOf(m.index));
      for (const m of text.matchAll(/subscribe\(\s*`\$\{EVENTS_ROOT\}\.(\w+|>)/g)) add(found.reads, user, m[1]!, file, lineOf(m.index));
    }
  }
  return found;
}

const found = scan();
const granted = (u: BusUser) => Object.entries(GRANTS[u].calls).flatMap(([s, ms]) => (ms ?? []).map((m) => `${s}.${m}`));
const forwards = criMethods()
  .filter((m) => m.owner !== 'gateway')
  .map((m) => `${m.owner}.${m.name}`);

describe('the grants table holds every bus call in the code', () => {
  it('finds the calls it scans for (the scan itself works)', () => {
    expect(found.calls.get('monitor')).toContain('runtime.RecordExit');
    expect(found.calls.get('runtime')).toContain('network.SetUpPod'); // written over several lines
    expect(found.calls.get('gateway')).toContain('monitor.Health'); // a loop over the services
    expect(found.calls.get('gateway')).toContain('runtime.ExecSession');
    expect(found.publishes.get('image')).toContain('pull');
    expect(found.reads.get('gateway')).toContain('container');
  });

  for (const user of BUS_USERS) {
    it(`${user}: calls exactly what it is granted`, () => {
      const calls = [...(found.calls.get(user) ?? [])];
      for (const c of calls) {
        const [service, method] = c.split('.') as [ServiceName, string];
        expect(mayCall(user, service, method), `${user} calls ${c} at ${found.where.get(`${user} ${c}`)}, which grants.ts does not grant`).toBe(true);
      }
      // Nothing granted that no code calls (the gateway's CRI forwards come from routes.ts).
      const used = new Set([...calls, ...(user === 'gateway' ? forwards : [])]);
      expect(granted(user).filter((g) => !used.has(g)), `${user} is granted calls no code makes`).toEqual([]);
    });

    it(`${user}: publishes and reads only the events it is granted`, () => {
      const g = GRANTS[user];
      expect([...(found.publishes.get(user) ?? [])].sort()).toEqual([...g.publishes].sort());
      const reads = [...(found.reads.get(user) ?? [])];
      if (g.reads === 'all') expect(reads.every((k) => k === '>' || (EVENT_KINDS as readonly string[]).includes(k))).toBe(true);
      else expect(reads.sort()).toEqual([...g.reads].sort());
    });
  }
});

describe('what the table grants (ARCHITECTURE.md, issue 17)', () => {
  it('lets the gateway forward every CRI method to its owner, and check Health of every service', () => {
    for (const f of forwards) expect(granted('gateway')).toContain(f);
    for (const s of SERVICES) expect(mayCall('gateway', s, 'Health')).toBe(true);
  });

  it('keeps image-svc to unpacking, collecting and counting layers: no rootfs calls, nothing of runtime-svc', () => {
    expect(granted('image').sort()).toEqual(['storage.EnsureLayers', 'storage.GcLayers', 'storage.ImageFsUsage']);
  });

  it('keeps monitor-svc to what it asks runtime-svc and storage-svc', () => {
    expect(mayCall('monitor', 'runtime', 'CreateContainer')).toBe(false);
    expect(mayCall('monitor', 'storage', 'RemoveRootfs')).toBe(false);
    expect(granted('monitor').sort()).toEqual(['runtime.ListStatsTargets', 'runtime.RecordExit', 'storage.ContainerUsage']);
  });

  it('lets storage-svc and network-svc call nobody', () => {
    expect(granted('storage')).toEqual([]);
    expect(granted('network')).toEqual([]);
  });

  it('opens session pipes only from the gateway', () => {
    for (const s of SERVICES) for (const m of PIPE_METHODS[s]) expect(BUS_USERS.filter((u) => mayCall(u, s, m))).toEqual(['gateway']);
  });
});
