// Who may call what on the bus: the one table of crius's bus authorization.
// Each bus user with the methods it calls on each service (found at the call
// sites; grants.test.ts fails on a call the table does not grant), the event
// kinds it publishes and reads. permissions.ts turns it into nats-server users
// for `crius up` and `crius install` alike. Owned by @crius/common.
import { criMethods } from './routes.js';
import { SERVICES, type BusUser, type EventKind, type ServiceName } from './subjects.js';

/** Methods a user may call, by the service that serves them. */
export type CallGrants = Partial<Record<ServiceName, readonly string[]>>;

export interface BusGrants {
  calls: CallGrants;
  /** Event kinds it publishes (crius.v1.events.<kind>.<id>). */
  publishes: readonly EventKind[];
  /** Event kinds it subscribes to; 'all' = the whole event tree. */
  reads: readonly EventKind[] | 'all';
  /** May ask the NATS service framework's $SRV.PING|INFO|STATS discovery. */
  discovery?: boolean;
}

/** Methods that open a byte pipe between caller and callee (docs/bus.md "Streams"). */
export const PIPE_METHODS: Record<ServiceName, readonly string[]> = {
  image: [],
  storage: [],
  runtime: ['ExecSession', 'AttachSession'],
  network: ['PortForwardSession'],
  monitor: [],
};

/** Every CRI method a service owns, to that service: what the gateway forwards (routes.ts). */
function criForwards(): CallGrants {
  const out: Partial<Record<ServiceName, string[]>> = {};
  for (const m of criMethods()) if (m.owner !== 'gateway') (out[m.owner] ??= []).push(m.name);
  return out;
}

const HEALTH_OF_EVERY: CallGrants = Object.fromEntries(SERVICES.map((s) => [s, ['Health']]));

function merge(...parts: CallGrants[]): CallGrants {
  const out: Partial<Record<ServiceName, string[]>> = {};
  for (const part of parts) {
    for (const [svc, methods] of Object.entries(part) as [ServiceName, readonly string[]][]) {
      out[svc] = [...new Set([...(out[svc] ?? []), ...methods])];
    }
  }
  return out;
}

export const GRANTS: Record<BusUser, BusGrants> = {
  // Forwards every CRI method to its owner (new RPCs in routes.ts are granted
  // with their route), aggregates Health into Status, checks state before
  // handing out a streaming URL, runs the sessions in their owners, scrapes
  // monitor-svc for /metrics, and relays container events.
  gateway: {
    calls: merge(criForwards(), HEALTH_OF_EVERY, {
      runtime: ['ContainerStatus', 'PodSandboxStatus', 'ExecSession', 'AttachSession'],
      network: ['PortForwardSession'],
      monitor: ['Metrics'],
    }),
    publishes: [],
    reads: ['container'],
  },
  // Hands downloaded layers to storage-svc, collects those no image needs, and
  // asks for the filesystem usage ImageFsInfo reports (storage-svc counts it).
  // Not CreateRootfs, RemoveRootfs or ReconcileRootfs: it cannot touch a container.
  image: {
    calls: { storage: ['EnsureLayers', 'GcLayers', 'ImageFsUsage'] },
    publishes: ['image', 'pull'],
    reads: [],
  },
  storage: { calls: {}, publishes: [], reads: [] },
  // Container create (image config, rootfs), pod network set-up and tear-down,
  // reconciling both at start, and finding a checkpointed container's rootfs.
  runtime: {
    calls: {
      image: ['ImageConfig'],
      storage: ['CreateRootfs', 'RemoveRootfs', 'ReconcileRootfs', 'RootfsInfo'],
      network: ['SetUpPod', 'TearDownPod', 'ReconcileNetwork'],
    },
    publishes: ['container'],
    reads: [],
  },
  network: { calls: {}, publishes: [], reads: [] },
  // Hands exits to runtime-svc, asks it what to read stats from, reads
  // writable-layer usage, and counts pulls from image events.
  monitor: {
    calls: { runtime: ['ListStatsTargets', 'RecordExit'], storage: ['ContainerUsage'] },
    publishes: ['oom'],
    reads: ['image'],
  },
  // The crius CLI as root (`crius up`, the readiness probe of the units, the
  // demo and `crius image import`): health everywhere, local archives into image-svc.
  launcher: {
    calls: merge(HEALTH_OF_EVERY, { image: ['ImportImage'] }),
    publishes: [],
    reads: [],
  },
  // Read-only watchers (pull progress in the CLI, tools): every event, discovery.
  observer: { calls: {}, publishes: [], reads: 'all', discovery: true },
};

/** True when the table lets `user` call `service`.`method`. */
export function mayCall(user: BusUser, service: ServiceName, method: string, grants: Record<BusUser, BusGrants> = GRANTS): boolean {
  return grants[user].calls[service]?.includes(method) ?? false;
}

/** The users that may open pipes to `service` (callers of one of its pipe methods). */
export function pipeCallers(service: ServiceName, grants: Record<BusUser, BusGrants> = GRANTS): BusUser[] {
  return (Object.keys(grants) as BusUser[]).filter((u) => PIPE_METHODS[service].some((m) => mayCall(u, service, m, grants)));
}
