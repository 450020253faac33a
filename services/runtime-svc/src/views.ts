// CRI views of runtime-svc's records: what List*, *Status and the events say
// about a sandbox or container. Pure functions of the record.
import {
  ContainerConfig,
  ImageSpec,
  LinuxContainerResources,
  PodSandboxConfig,
  Signal,
  type ContainerUser,
  type Container,
  type ContainerStatus,
  type PodSandbox,
  type PodSandboxStatus,
} from '@crius/common/cri';
import { CRI_CONTAINER_STATE } from './store/container-state.js';
import type { ContainerRecord, SandboxRecord } from './store/records.js';

/** Decoded configs are cached per record object: records are immutable once stored. */
const sandboxConfigs = new WeakMap<SandboxRecord, PodSandboxConfig>();
const containerConfigs = new WeakMap<ContainerRecord, ContainerConfig>();
const appliedResources = new WeakMap<ContainerRecord, LinuxContainerResources | undefined>();

export function sandboxConfig(r: SandboxRecord): PodSandboxConfig {
  let c = sandboxConfigs.get(r);
  if (!c) sandboxConfigs.set(r, (c = PodSandboxConfig.decode(Buffer.from(r.config, 'base64'))));
  return c;
}

export function containerConfig(r: ContainerRecord): ContainerConfig {
  let c = containerConfigs.get(r);
  if (!c) containerConfigs.set(r, (c = ContainerConfig.decode(Buffer.from(r.config, 'base64'))));
  return c;
}

/** The resources as currently applied: the last successful update's, else the create's. */
export function containerResources(r: ContainerRecord): LinuxContainerResources | undefined {
  if (appliedResources.has(r)) return appliedResources.get(r);
  const res = r.resources ? LinuxContainerResources.decode(Buffer.from(r.resources, 'base64')) : containerConfig(r).linux?.resources;
  appliedResources.set(r, res);
  return res;
}

/** The stop signal fixed at create; older records: stop_signal, else SIGTERM. */
export function containerStopSignal(r: ContainerRecord): Signal {
  return r.stopSignal ?? (containerConfig(r).stopSignal || Signal.SIGTERM);
}

function containerUser(r: ContainerRecord): ContainerUser | undefined {
  if (!r.user) return undefined;
  const { uid, gid, additionalGids } = r.user;
  return { linux: { uid: BigInt(uid), gid: BigInt(gid), supplementalGroups: additionalGids.map(BigInt) } };
}

export const SANDBOX_READY = 0;
export const SANDBOX_NOTREADY = 1;

export function sandboxState(r: SandboxRecord): number {
  return r.state === 'ready' ? SANDBOX_READY : SANDBOX_NOTREADY;
}

export function podSandboxView(r: SandboxRecord): PodSandbox {
  const cfg = sandboxConfig(r);
  return {
    id: r.id,
    metadata: cfg.metadata,
    state: sandboxState(r),
    createdAt: BigInt(r.createdAt),
    labels: cfg.labels,
    annotations: cfg.annotations,
    runtimeHandler: r.runtimeHandler,
  };
}

export function podSandboxStatusView(r: SandboxRecord): PodSandboxStatus {
  const cfg = sandboxConfig(r);
  const [ip = '', ...more] = r.ips;
  const ns = cfg.linux?.securityContext?.namespaceOptions;
  return {
    id: r.id,
    metadata: cfg.metadata,
    state: sandboxState(r),
    createdAt: BigInt(r.createdAt),
    network: { ip, additionalIps: more.map((m) => ({ ip: m })) },
    linux: {
      namespaces: {
        options: {
          network: ns?.network ?? 0,
          pid: ns?.pid ?? 0,
          ipc: ns?.ipc ?? 0,
          targetId: ns?.targetId ?? '',
          usernsOptions: ns?.usernsOptions,
        },
      },
    },
    labels: cfg.labels,
    annotations: cfg.annotations,
    runtimeHandler: r.runtimeHandler,
  };
}

export function containerView(r: ContainerRecord): Container {
  const cfg = containerConfig(r);
  return {
    id: r.id,
    podSandboxId: r.sandboxId,
    metadata: cfg.metadata,
    image: { ...(cfg.image ?? emptyImage()), image: r.image },
    imageRef: r.imageRef,
    state: CRI_CONTAINER_STATE[r.state],
    createdAt: BigInt(r.createdAt),
    labels: cfg.labels,
    annotations: cfg.annotations,
    imageId: r.imageId,
  };
}

export function containerStatusView(r: ContainerRecord): ContainerStatus {
  const cfg = containerConfig(r);
  return {
    id: r.id,
    metadata: cfg.metadata,
    state: CRI_CONTAINER_STATE[r.state],
    createdAt: BigInt(r.createdAt),
    startedAt: BigInt(r.startedAt),
    finishedAt: BigInt(r.finishedAt),
    exitCode: r.exitCode,
    image: { ...(cfg.image ?? emptyImage()), image: r.image },
    imageRef: r.imageRef,
    reason: r.reason,
    message: r.message,
    labels: cfg.labels,
    annotations: cfg.annotations,
    mounts: cfg.mounts,
    logPath: r.logPath,
    resources: resourcesView(r),
    imageId: r.imageId,
    user: containerUser(r),
    stopSignal: containerStopSignal(r),
  };
}

function resourcesView(r: ContainerRecord): ContainerStatus['resources'] {
  const linux = containerResources(r);
  return linux ? { linux, windows: undefined } : undefined;
}

function emptyImage(): ImageSpec {
  return ImageSpec.fromPartial({});
}
