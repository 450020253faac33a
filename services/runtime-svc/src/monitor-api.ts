// What runtime-svc tells monitor-svc: the cgroups, namespaces and bundles to
// read stats and logs from (ListStatsTargets), and the entry point for exits
// monitor-svc sees conmon record (RecordExit). runtime-svc stays the only
// writer of container state.
import { unary, type BusEndpoint } from '@crius/common';
import { ListStatsTargetsRequest, ListStatsTargetsResponse, RecordExitRequest, RecordExitResponse } from '@crius/common/proto/runtime';
import { refreshExit } from './container/lifecycle.js';
import type { Runtime } from './runtime.js';
import { cgroupsPath } from './spec/index.js';
import { containerConfig, sandboxConfig } from './views.js';

export function monitorEndpoints(rt: Runtime): Record<string, BusEndpoint> {
  const manager = rt.deps.config.runtime.cgroup_manager as 'cgroupfs' | 'systemd';
  return {
    ListStatsTargets: unary(ListStatsTargetsRequest, ListStatsTargetsResponse, async () => {
      await rt.refreshExits();
      const pods = rt.sandboxes.list().map((sb) => {
        const cfg = sandboxConfig(sb);
        return { id: sb.id, metadata: cfg.metadata, labels: cfg.labels, annotations: cfg.annotations, cgroupPath: sb.cgroupParent, netnsPath: sb.netnsPath };
      });
      const containers = rt.containers.list().map((c) => {
        const cfg = containerConfig(c);
        const sb = rt.sandboxes.find(c.sandboxId);
        return {
          id: c.id,
          sandboxId: c.sandboxId,
          metadata: cfg.metadata,
          labels: cfg.labels,
          annotations: cfg.annotations,
          cgroupPath: manager === 'cgroupfs' ? cgroupsPath(manager, sb?.cgroupParent ?? '', c.id) : '',
          running: c.state === 'running',
          image: c.imageId,
          startedAt: BigInt(c.startedAt),
          bundle: c.bundle,
          pid: c.pid,
        };
      });
      return { pods, containers };
    }),
    RecordExit: unary(RecordExitRequest, RecordExitResponse, async (req) => {
      const found = rt.containers.find(req.containerId);
      const unchanged = { changed: false, reason: '', exitCode: 0 };
      if (!found) return unchanged;
      return rt.locks.run(found.id, async () => {
        const rec = rt.containers.find(found.id);
        if (!rec || rec.state === 'exited') return unchanged;
        const next = await refreshExit(rt, rec);
        return next.state === 'exited' ? { changed: true, reason: next.reason, exitCode: next.exitCode } : unchanged;
      });
    }),
  };
}
