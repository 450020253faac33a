// runtime-svc's logic behind one class: sandbox and container records and
// what CRI asks of them. The bus adapter (bus.ts) only maps messages.
import path from 'node:path';
import type { Logger } from '@crius/common';
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

export class Runtime {
  readonly sandboxes: RecordStore<SandboxRecord>;
  readonly containers: RecordStore<ContainerRecord>;

  constructor(
    readonly stateDir: string,
    readonly log: Logger,
  ) {
    this.sandboxes = new RecordStore(path.join(stateDir, 'sandboxes'), 'pod sandbox');
    this.containers = new RecordStore(path.join(stateDir, 'containers'), 'container');
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
