// network-svc's bus adapter: crius.v1.network.* and CRI UpdateRuntimeConfig ↔ NetworkService.
import { unary, type BusEndpoint } from '@crius/common';
import { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from '@crius/common/cri';
import {
  PodNetworkRequest,
  PodNetworkStatus,
  ReconcileNetworkRequest,
  ReconcileNetworkResponse,
  SetUpPodRequest,
  SetUpPodResponse,
  TearDownPodResponse,
} from '@crius/common/proto/network';
import { PortForwardSessionRequest, StreamSessionResponse } from '@crius/common/proto/streams';
import type { NetworkService } from './network-service.js';
import { startPortForwardSession, type PortForwardDeps } from './port-forward.js';

export function networkEndpoints(net: NetworkService, stream?: Omit<PortForwardDeps, 'net'>): Record<string, BusEndpoint> {
  return {
    ...(stream && {
      // Replies once the connection runs; its bytes follow on crius.v1.pipe.network.<caller>.<sid>.
      PortForwardSession: unary(PortForwardSessionRequest, StreamSessionResponse, async (req) => {
        await startPortForwardSession({ ...stream, net }, req);
        return {};
      }),
    }),
    SetUpPod: unary(SetUpPodRequest, SetUpPodResponse, async (req) => {
      const r = await net.setUpPod({
        sandboxId: req.sandboxId,
        name: req.name,
        namespace: req.namespace,
        uid: req.uid,
        hostNetwork: req.hostNetwork,
        portMappings: req.portMappings,
        annotations: req.annotations,
      });
      return { netnsPath: r.netnsPath, ips: r.ips };
    }),
    TearDownPod: unary(PodNetworkRequest, TearDownPodResponse, async (req) => {
      await net.tearDownPod(req.sandboxId);
      return {};
    }),
    PodNetworkStatus: unary(PodNetworkRequest, PodNetworkStatus, async (req) => {
      const s = await net.podStatus(req.sandboxId);
      return { netnsPath: s.netnsPath, netnsExists: s.netnsExists, ips: s.ips };
    }),
    ReconcileNetwork: unary(ReconcileNetworkRequest, ReconcileNetworkResponse, async (req) => ({
      vanished: await net.reconcile(req.knownSandboxIds),
      removed: [],
    })),
    UpdateRuntimeConfig: unary(UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse, async (req) => {
      await net.updatePodCidr(req.runtimeConfig?.networkConfig?.podCidr ?? '');
      return {};
    }),
  };
}
