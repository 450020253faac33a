// runtime-svc's logic behind one class: sandbox and container records and
// what CRI asks of them. The bus adapter (bus.ts) only maps messages.
import path from 'node:path';
import { KeyedLock, type BusClient, type CriusConfig, type Logger } from '@crius/common';
import { existsSync } from 'node:fs';
import type { HandlerContext } from '@crius/common';
import type { SandboxOs } from './os/sandbox-os.js';
import { OciRuntime } from './os/oci-runtime.js';
import { which } from './os/which.js';
import { hostDevices, readHostFacts } from './container/host-facts.js';
import { NodeAppArmor } from './os/apparmor.js';
import { ChconLabeler, type Labeler } from './os/selinux.js';
import { refreshExit, removeContainer, stopContainer } from './container/lifecycle.js';
import type { HostFacts } from './spec/index.js';
import type {
  ContainerFilter,
  ContainerStatusResponse,
  PodSandboxFilter,
  PodSandboxStatusResponse,
  Container,
  PodSandbox,
} from '@crius/common/cri';
import { containerMatches, sandboxMatches } from './store/filters.js';
import { RecordStore } from './store/record-store.js';
import { RECORD_VERSION, type ContainerRecord, type SandboxRecord } from './store/records.js';
import { containerConfig, containerStatusView, containerView, podSandboxStatusView, podSandboxView, sandboxConfig } from './views.js';

export interface RuntimeDeps {
  config: CriusConfig;
  log: Logger;
  bus: BusClient;
  os: SandboxOs;
  /** runtime-svc's durable and volatile directories. */
  dirs: { state: string; run: string };
  /** The kernel's AppArmor and SELinux (defaults: read from this node). */
  apparmor?: NodeAppArmor;
  labeler?: Labeler;
}

export class Runtime {
  readonly sandboxes: RecordStore<SandboxRecord>;
  readonly containers: RecordStore<ContainerRecord>;
  /** Serializes work per sandbox id, container id and reserved name. */
  readonly locks = new KeyedLock();
  readonly log: Logger;
  readonly apparmor: NodeAppArmor;
  readonly labeler: Labeler;

  constructor(readonly deps: RuntimeDeps) {
    this.log = deps.log;
    this.apparmor = deps.apparmor ?? new NodeAppArmor();
    this.labeler = deps.labeler ?? new ChconLabeler();
    this.sandboxes = new RecordStore(path.join(deps.dirs.state, 'sandboxes'), 'pod sandbox');
    this.containers = new RecordStore(path.join(deps.dirs.state, 'containers'), 'container');
  }

  /** Volatile per-sandbox directory (pinned namespaces, shm, hosts, resolv.conf). */
  sandboxRunDir(id: string): string {
    return path.join(this.deps.dirs.run, 'sandboxes', id);
  }

  get pinDir(): string {
    return path.join(this.deps.dirs.run, 'ns');
  }

  bundleDir(id: string): string {
    return path.join(this.deps.dirs.run, 'containers', id);
  }

  get exitDir(): string {
    return path.join(this.deps.dirs.run, 'exits');
  }

  get attachDir(): string {
    return path.join(this.deps.dirs.run, 'attach');
  }

  /** Our native/conmon when built, else the configured or Debian one. */
  get conmonPath(): string {
    if (this.deps.config.runtime.conmon) return this.deps.config.runtime.conmon;
    const ours = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../native/conmon/build/crius-conmon');
    return existsSync(ours) ? ours : which('conmon');
  }

  /** native/conmon's attach-bridge (attach socket <-> stdio), built next to crius-conmon. */
  get attachBridgePath(): string {
    const beside = path.join(path.dirname(this.conmonPath), 'attach-bridge');
    if (existsSync(beside)) return beside;
    return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../native/conmon/build/attach-bridge');
  }

  ociRuntime(handler: string): OciRuntime {
    const h = this.deps.config.runtime.handlers[handler];
    if (!h) throw new Error(`runtime handler ${handler} is not configured`);
    return new OciRuntime({ path: which(h.runtime_path), root: h.runtime_root || path.join(this.deps.dirs.run, 'oci', handler), args: h.runtime_args });
  }

  private facts?: Promise<HostFacts>;
  hostFacts(): Promise<HostFacts> {
    return (this.facts ??= readHostFacts(this.deps.config));
  }

  /**
   * The facts for one create: the start-time ones, /dev as it is now for a
   * privileged container (a device added since start is seen), and the
   * AppArmor profiles loaded now (crius-default reloaded if it went away).
   */
  async createFacts(privileged: boolean): Promise<HostFacts> {
    await this.apparmor.ensureDefault();
    return { ...(await this.hostFacts()), hostDevices: privileged ? await hostDevices() : undefined, apparmor: this.apparmor.host() };
  }

  /**
   * Creates finished after their caller's deadline passed: kubelet retries
   * with the same name, and the retry gets this id instead of an error.
   */
  private readonly twins = new Set<string>();

  /** Cleanup that needs other services, queued during recovery and run once they answer. */
  readonly pendingCleanup: (() => Promise<void>)[] = [];

  /**
   * Settles when reconciliation with network-svc and storage-svc is over.
   * Creates wait for it: a reconcile that ran while a create was half done
   * would see the new namespace or rootfs as stale and remove it.
   */
  reconciled: Promise<void> = Promise.resolve();

  noteIfCallerGone(id: string, ctx: HandlerContext): void {
    if (ctx.deadline !== undefined && Date.now() > ctx.deadline) this.twins.add(id);
  }

  claimTwin(id: string): boolean {
    return this.twins.delete(id);
  }

  stopContainer(id: string, timeoutSeconds: number, ctx: HandlerContext): Promise<void> {
    return stopContainer(this, id, timeoutSeconds, ctx);
  }

  removeContainer(id: string, ctx: HandlerContext): Promise<void> {
    return removeContainer(this, id, ctx);
  }

  /** Pick up exits conmon recorded since we last looked (cheap: one stat per live container). */
  async refreshExits(): Promise<void> {
    for (const c of this.containers.list()) {
      if (c.state === 'running' || c.state === 'created') await refreshExit(this, c);
    }
  }

  /** Load records; a record of an unknown version is set aside, never fatal. */
  async load(): Promise<void> {
    const known = (r: { version: number }) => r.version === RECORD_VERSION;
    await this.sandboxes.load(this.log, known);
    await this.containers.load(this.log, known);
  }

  listSandboxes(filter?: PodSandboxFilter): PodSandbox[] {
    return this.sandboxes
      .list()
      .map(podSandboxView)
      .filter((v) => sandboxMatches(v, filter))
      .sort(byCreation);
  }

  sandboxStatus(id: string, verbose: boolean): PodSandboxStatusResponse {
    const r = this.sandboxes.get(id);
    const containers = this.containers.list().filter((c) => c.sandboxId === r.id);
    return {
      status: podSandboxStatusView(r),
      info: verbose ? { info: JSON.stringify({ record: { ...r, config: undefined }, config: sandboxConfig(r) }, bigintJson) } : {},
      containersStatuses: containers.map(containerStatusView),
      timestamp: BigInt(Date.now()) * 1_000_000n,
    };
  }

  listContainers(filter?: ContainerFilter): Container[] {
    return this.containers
      .list()
      .map(containerView)
      .filter((v) => containerMatches({ ...v, sandboxId: v.podSandboxId }, filter))
      .sort(byCreation);
  }

  containerStatus(id: string, verbose: boolean): ContainerStatusResponse {
    const r = this.containers.get(id);
    return {
      status: containerStatusView(r),
      info: verbose
        ? { info: JSON.stringify({ pid: r.pid, bundle: r.bundle, rootfs: r.rootfs, runtimeHandler: r.runtimeHandler, config: containerConfig(r) }, bigintJson) }
        : {},
    };
  }
}

function byCreation(a: { createdAt: bigint }, b: { createdAt: bigint }): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
