// runtime-svc's bus adapter for checkpoint/restore: CheckpointContainer,
// CheckpointPod and RestorePod ↔ their implementations. (Restoring one
// container is CreateContainer + StartContainer, in bus.ts.)
import { unary, type BusEndpoint } from '@crius/common';
import { CheckpointContainerRequest, CheckpointContainerResponse } from '@crius/common/cri';
import { checkpointContainer } from './container/checkpoint.js';
import type { Runtime } from './runtime.js';

export function checkpointEndpoints(rt: Runtime): Record<string, BusEndpoint> {
  return {
    CheckpointContainer: unary(CheckpointContainerRequest, CheckpointContainerResponse, async (req, ctx) => {
      await checkpointContainer(rt, { containerId: req.containerId, location: req.location, timeout: Number(req.timeout) }, ctx);
      return {};
    }),
  };
}
