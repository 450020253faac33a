// runtime-svc's bus adapter: CRI request/response messages ↔ Runtime.
import { stream, unary, pages, type BusEndpoint } from '@crius/common';
import {
  ContainerStatusRequest,
  ContainerStatusResponse,
  ListContainersRequest,
  ListContainersResponse,
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  PodSandboxStatusRequest,
  PodSandboxStatusResponse,
  StreamContainersRequest,
  StreamContainersResponse,
  StreamPodSandboxesRequest,
  StreamPodSandboxesResponse,
} from '@crius/common/cri';
import type { Runtime } from './runtime.js';

export function runtimeEndpoints(rt: Runtime): Record<string, BusEndpoint> {
  return {
    ListPodSandbox: unary(ListPodSandboxRequest, ListPodSandboxResponse, async (req) => ({ items: rt.listSandboxes(req.filter) })),
    StreamPodSandboxes: stream(StreamPodSandboxesRequest, StreamPodSandboxesResponse, (req) =>
      pages(rt.listSandboxes(req.filter), (podSandboxes) => ({ podSandboxes })),
    ),
    PodSandboxStatus: unary(PodSandboxStatusRequest, PodSandboxStatusResponse, async (req) => rt.sandboxStatus(req.podSandboxId, req.verbose)),
    ListContainers: unary(ListContainersRequest, ListContainersResponse, async (req) => ({ containers: rt.listContainers(req.filter) })),
    StreamContainers: stream(StreamContainersRequest, StreamContainersResponse, (req) =>
      pages(rt.listContainers(req.filter), (containers) => ({ containers })),
    ),
    ContainerStatus: unary(ContainerStatusRequest, ContainerStatusResponse, async (req) => rt.containerStatus(req.containerId, req.verbose)),
  };
}
