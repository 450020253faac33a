// Which service owns which CRI method: the one routing table of crius. The
// method list itself comes from the generated service definitions, so a CRI
// method missing here is a compile error, not a silent gap.
import { ImageServiceDefinition, RuntimeServiceDefinition } from '../gen/cri/runtime/v1/api.js';
import type { ServiceName } from './subjects.js';

type Methods = (typeof RuntimeServiceDefinition)['methods'] & (typeof ImageServiceDefinition)['methods'];
export type CriMethod = { [K in keyof Methods]: Methods[K]['name'] }[keyof Methods];

/** 'gateway' = answered by the gateway itself (Version, Status, the event relay, streaming URLs). */
export type Owner = ServiceName | 'gateway';

export const CRI_ROUTES: Record<CriMethod, Owner> = {
  // Answered locally or aggregated by the gateway.
  Version: 'gateway',
  Status: 'gateway',
  GetContainerEvents: 'gateway',
  // Streaming: the gateway validates and hands out a URL of its streaming
  // server; the session itself runs in runtime-svc / network-svc over a bus pipe.
  Exec: 'gateway',
  Attach: 'gateway',
  PortForward: 'gateway',
  // Sandboxes and containers: runtime-svc owns their records.
  RunPodSandbox: 'runtime',
  StopPodSandbox: 'runtime',
  RemovePodSandbox: 'runtime',
  PodSandboxStatus: 'runtime',
  ListPodSandbox: 'runtime',
  StreamPodSandboxes: 'runtime',
  UpdatePodSandboxResources: 'runtime',
  CreateContainer: 'runtime',
  StartContainer: 'runtime',
  StopContainer: 'runtime',
  RemoveContainer: 'runtime',
  ListContainers: 'runtime',
  StreamContainers: 'runtime',
  ContainerStatus: 'runtime',
  UpdateContainerResources: 'runtime',
  ExecSync: 'runtime',
  CheckpointContainer: 'runtime',
  // Pod checkpoint/restore (KEP-5823).
  CheckpointPod: 'runtime',
  RestorePod: 'runtime',
  RuntimeConfig: 'runtime',
  // Observation: monitor-svc owns stats, metrics and log reopen.
  ReopenContainerLog: 'monitor',
  ContainerStats: 'monitor',
  ListContainerStats: 'monitor',
  StreamContainerStats: 'monitor',
  PodSandboxStats: 'monitor',
  ListPodSandboxStats: 'monitor',
  StreamPodSandboxStats: 'monitor',
  ListMetricDescriptors: 'monitor',
  ListPodSandboxMetrics: 'monitor',
  StreamPodSandboxMetrics: 'monitor',
  // The pod CIDR goes to CNI.
  UpdateRuntimeConfig: 'network',
  // Images.
  ListImages: 'image',
  StreamImages: 'image',
  ImageStatus: 'image',
  PullImage: 'image',
  RemoveImage: 'image',
  ImageFsInfo: 'image',
};

export interface CriMethodInfo {
  /** CRI method name, e.g. "RunPodSandbox". */
  name: CriMethod;
  /** grpc-js service definition key, e.g. "runPodSandbox". */
  key: string;
  service: 'RuntimeService' | 'ImageService';
  owner: Owner;
  serverStreaming: boolean;
}

/** Every CRI method with its owner, from the generated definitions. */
export function criMethods(): CriMethodInfo[] {
  const out: CriMethodInfo[] = [];
  const defs = [
    ['RuntimeService', RuntimeServiceDefinition],
    ['ImageService', ImageServiceDefinition],
  ] as const;
  for (const [service, def] of defs) {
    for (const [key, m] of Object.entries(def.methods)) {
      const name = m.name as CriMethod;
      out.push({ name, key, service, owner: CRI_ROUTES[name], serverStreaming: m.responseStream });
    }
  }
  return out;
}

/** CRI methods a service owns (the bus methods it must answer, implemented or not). */
export function methodsOwnedBy(service: ServiceName): CriMethod[] {
  return criMethods()
    .filter((m) => m.owner === service)
    .map((m) => m.name);
}
