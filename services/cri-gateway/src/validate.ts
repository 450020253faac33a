// Request checks done at the edge before a call crosses the bus: the bytes
// must decode as the CRI message, and fields CRI marks as required must be
// set. Anything failing here is INVALID_ARGUMENT and never reaches a service.
import { InvalidArgumentError, type CriMethod } from '@crius/common';

type Check = (req: any) => string | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any

const need = (value: unknown, field: string): string | undefined =>
  value === undefined || value === null || value === '' ? `${field} is required` : undefined;

const first = (...checks: (string | undefined)[]): string | undefined => checks.find((c) => c !== undefined);

const byId = (field: string, key: string): Check => (r) => need(r[key], field);

/** Required fields per method (CRI api.proto documents these as mandatory). */
const CHECKS: Partial<Record<CriMethod, Check>> = {
  RunPodSandbox: (r) =>
    first(
      need(r.config, 'config'),
      need(r.config?.metadata, 'config.metadata'),
      need(r.config?.metadata?.name, 'config.metadata.name'),
      need(r.config?.metadata?.namespace, 'config.metadata.namespace'),
      need(r.config?.metadata?.uid, 'config.metadata.uid'),
    ),
  StopPodSandbox: byId('pod_sandbox_id', 'podSandboxId'),
  RemovePodSandbox: byId('pod_sandbox_id', 'podSandboxId'),
  PodSandboxStatus: byId('pod_sandbox_id', 'podSandboxId'),
  CreateContainer: (r) =>
    first(
      need(r.podSandboxId, 'pod_sandbox_id'),
      need(r.config, 'config'),
      need(r.config?.metadata?.name, 'config.metadata.name'),
      need(r.config?.image?.image, 'config.image.image'),
    ),
  StartContainer: byId('container_id', 'containerId'),
  StopContainer: byId('container_id', 'containerId'),
  RemoveContainer: byId('container_id', 'containerId'),
  ContainerStatus: byId('container_id', 'containerId'),
  UpdateContainerResources: byId('container_id', 'containerId'),
  ReopenContainerLog: byId('container_id', 'containerId'),
  ExecSync: (r) => first(need(r.containerId, 'container_id'), r.cmd?.length ? undefined : 'cmd is required'),
  Exec: (r) => first(need(r.containerId, 'container_id'), r.cmd?.length ? undefined : 'cmd is required'),
  Attach: byId('container_id', 'containerId'),
  PortForward: byId('pod_sandbox_id', 'podSandboxId'),
  ContainerStats: byId('container_id', 'containerId'),
  PodSandboxStats: byId('pod_sandbox_id', 'podSandboxId'),
  CheckpointContainer: byId('container_id', 'containerId'),
  CheckpointPod: byId('pod_sandbox_id', 'podSandboxId'),
  RestorePod: (r) => need(r.path, 'path'),
  UpdatePodSandboxResources: byId('pod_sandbox_id', 'podSandboxId'),
  ImageStatus: (r) => need(r.image?.image, 'image.image'),
  PullImage: (r) => need(r.image?.image, 'image.image'),
  RemoveImage: (r) => need(r.image?.image, 'image.image'),
};

export function validateRequest(method: CriMethod, request: unknown): void {
  const problem = CHECKS[method]?.(request);
  if (problem) throw new InvalidArgumentError(`${method}: ${problem}`);
}
