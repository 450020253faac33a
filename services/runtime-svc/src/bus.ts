// runtime-svc's bus adapter: CRI request/response messages ↔ Runtime.
import { stream, unary, pages, type BusEndpoint } from '@crius/common';
import {
  CgroupDriver,
  CreateContainerRequest,
  CreateContainerResponse,
  ExecSyncRequest,
  ExecSyncResponse,
  RemoveContainerRequest,
  RemoveContainerResponse,
  RemovePodSandboxRequest,
  RemovePodSandboxResponse,
  RunPodSandboxRequest,
  RunPodSandboxResponse,
  RuntimeConfigRequest,
  RuntimeConfigResponse,
  StartContainerRequest,
  StartContainerResponse,
  StopContainerRequest,
  StopContainerResponse,
  StopPodSandboxRequest,
  StopPodSandboxResponse,
  UpdateContainerResourcesRequest,
  UpdateContainerResourcesResponse,
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
  UpdatePodSandboxResourcesRequest,
  UpdatePodSandboxResourcesResponse,
} from '@crius/common/cri';
import { AttachSessionRequest, ExecSessionRequest, StreamSessionResponse } from '@crius/common/proto/streams';
import type { Runtime } from './runtime.js';
import { startAttachSession, startExecSession } from './container/stream-sessions.js';
import { runPodSandbox } from './sandbox/run.js';
import { removePodSandbox, stopPodSandbox } from './sandbox/stop.js';
import { updatePodSandboxResources } from './sandbox/update-resources.js';
import { createContainer } from './container/create.js';
import { startContainer, updateResources } from './container/lifecycle.js';
import { execSync } from './container/exec-sync.js';

export function runtimeEndpoints(rt: Runtime): Record<string, BusEndpoint> {
  return {
    RunPodSandbox: unary(RunPodSandboxRequest, RunPodSandboxResponse, async (req, ctx) => ({ podSandboxId: await runPodSandbox(rt, req, ctx) })),
    StopPodSandbox: unary(StopPodSandboxRequest, StopPodSandboxResponse, async (req, ctx) => {
      await stopPodSandbox(rt, req.podSandboxId, ctx);
      return {};
    }),
    RemovePodSandbox: unary(RemovePodSandboxRequest, RemovePodSandboxResponse, async (req, ctx) => {
      await removePodSandbox(rt, req.podSandboxId, ctx);
      return {};
    }),
    UpdatePodSandboxResources: unary(UpdatePodSandboxResourcesRequest, UpdatePodSandboxResourcesResponse, async (req) => {
      await updatePodSandboxResources(rt, req);
      return {};
    }),
    CreateContainer: unary(CreateContainerRequest, CreateContainerResponse, async (req, ctx) => ({ containerId: await createContainer(rt, req, ctx) })),
    StartContainer: unary(StartContainerRequest, StartContainerResponse, async (req, ctx) => {
      await startContainer(rt, req.containerId, ctx);
      return {};
    }),
    StopContainer: unary(StopContainerRequest, StopContainerResponse, async (req, ctx) => {
      await rt.stopContainer(req.containerId, Number(req.timeout), ctx);
      return {};
    }),
    RemoveContainer: unary(RemoveContainerRequest, RemoveContainerResponse, async (req, ctx) => {
      await rt.removeContainer(req.containerId, ctx);
      return {};
    }),
    // Streaming sessions: reply once the process runs; its bytes follow on crius.v1.pipe.runtime.<caller>.<sid>.
    ExecSession: unary(ExecSessionRequest, StreamSessionResponse, async (req) => {
      await startExecSession(rt, req);
      return {};
    }),
    AttachSession: unary(AttachSessionRequest, StreamSessionResponse, async (req) => {
      await startAttachSession(rt, req);
      return {};
    }),
    ExecSync: unary(ExecSyncRequest, ExecSyncResponse, async (req, ctx) => execSync(rt, req.containerId, req.cmd, Number(req.timeout), ctx)),
    UpdateContainerResources: unary(UpdateContainerResourcesRequest, UpdateContainerResourcesResponse, async (req) => {
      await updateResources(rt, req.containerId, req.linux);
      return {};
    }),
    RuntimeConfig: unary(RuntimeConfigRequest, RuntimeConfigResponse, async () => ({
      linux: { cgroupDriver: rt.deps.config.runtime.cgroup_manager === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS },
    })),
    ListPodSandbox: unary(ListPodSandboxRequest, ListPodSandboxResponse, async (req) => ({ items: rt.listSandboxes(req.filter) })),
    StreamPodSandboxes: stream(StreamPodSandboxesRequest, StreamPodSandboxesResponse, (req) =>
      pages(rt.listSandboxes(req.filter), (podSandboxes) => ({ podSandboxes })),
    ),
    PodSandboxStatus: unary(PodSandboxStatusRequest, PodSandboxStatusResponse, async (req) => rt.sandboxStatus(req.podSandboxId, req.verbose)),
    ListContainers: unary(ListContainersRequest, ListContainersResponse, async (req) => {
      await rt.refreshExits();
      return { containers: rt.listContainers(req.filter) };
    }),
    StreamContainers: stream(StreamContainersRequest, StreamContainersResponse, async function* (req) {
      await rt.refreshExits();
      yield* pages(rt.listContainers(req.filter), (containers) => ({ containers }));
    }),
    ContainerStatus: unary(ContainerStatusRequest, ContainerStatusResponse, async (req) => {
      await rt.refreshExits();
      return rt.containerStatus(req.containerId, req.verbose);
    }),
  };
}
