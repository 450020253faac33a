// runtime-svc's bus adapter for checkpoint/restore: CheckpointContainer,
// CheckpointPod and RestorePod ↔ their implementations. (Restoring one
// container is CreateContainer + StartContainer, in bus.ts.)
import { unary, type BusEndpoint } from '@crius/common';
import {
  CheckpointContainerRequest,
  CheckpointContainerResponse,
  CheckpointPodRequest,
  CheckpointPodResponse,
  RestorePodRequest,
  RestorePodResponse,
} from '@crius/common/cri';
import { checkpointContainer } from './container/checkpoint.js';
import type { Runtime } from './runtime.js';
import { checkpointPod } from './sandbox/checkpoint-pod.js';
import { restorePod } from './sandbox/restore-pod.js';

export function checkpointEndpoints(rt: Runtime): Record<string, BusEndpoint> {
  return {
    CheckpointContainer: unary(CheckpointContainerRequest, CheckpointContainerResponse, async (req, ctx) => {
      await checkpointContainer(rt, { containerId: req.containerId, location: req.location, timeout: Number(req.timeout) }, ctx);
      return {};
    }),
    CheckpointPod: unary(CheckpointPodRequest, CheckpointPodResponse, async (req, ctx) => {
      await checkpointPod(rt, req, ctx);
      return {};
    }),
    RestorePod: unary(RestorePodRequest, RestorePodResponse, async (req, ctx) => ({ podSandboxId: await restorePod(rt, req, ctx) })),
  };
}
