// monitor-svc: watches exits (handing them to runtime-svc, publishing OOM
// events), serves stats and metrics read from cgroups and pod namespaces.
import path from 'node:path';
import { EVENTS_ROOT, serviceDirs, unary, type BusClient, type ServiceDefinition } from '@crius/common';
import { FilesystemUsage } from '@crius/common/cri';
import { ContainerOomKilled, ImagePulled } from '@crius/common/proto/events';
import { MetricsRequest, MetricsResponse } from '@crius/common/proto/metrics';
import { fetchTargets } from './targets.js';
import { RootfsRequest, UsageResponse } from '@crius/common/proto/storage';
import { monitorEndpoints } from './bus.js';
import { ExitWatcher } from './exit-watcher.js';
import { CriStats, createCgroupReader, createRuntimeMetrics, type RuntimeMetrics } from './stats/index.js';

/** Image pulls and bytes, from image-svc's ImagePulled events. */
function countPulls(bus: BusClient, metrics: RuntimeMetrics) {
  return bus.nc.subscribe(`${EVENTS_ROOT}.image.>`, {
    callback: (_err, msg) => {
      try {
        const ev = ImagePulled.decode(msg.data);
        if (ev.error) metrics.imagePullFailed();
        else metrics.imagePulled(Number(ev.bytes));
      } catch {
        // Not an ImagePulled message: ignore.
      }
    },
  });
}

export const monitorService: ServiceDefinition = {
  name: 'monitor',
  version: '0.1.0',
  async start({ config, bus, log }) {
    const metrics = createRuntimeMetrics();
    const stats = new CriStats({
      cgroups: createCgroupReader(),
      writableLayer: async (id) => {
        const r = await bus.call('storage', 'ContainerUsage', RootfsRequest, UsageResponse, { containerId: id }).catch(() => undefined);
        const u: FilesystemUsage | undefined = r?.usage;
        return u ? { usedBytes: u.usedBytes?.value ?? 0n, inodesUsed: u.inodesUsed?.value ?? 0n, mountpoint: u.fsId?.mountpoint ?? '' } : undefined;
      },
    });
    const exits = new ExitWatcher(path.join(serviceDirs(config, 'runtime').run, 'exits'), bus, log, (e) => {
      metrics.containerExited();
      if (e.reason === 'OOMKilled') {
        metrics.containerOom();
        bus.publishEvent('oom', e.id, ContainerOomKilled, { containerId: e.id, exitCode: e.exitCode, seenAt: BigInt(Date.now()) * 1_000_000n });
      }
      log.info({ container: e.id, exitCode: e.exitCode, reason: e.reason }, 'container exited');
    });
    await exits.start();
    const pulls = countPulls(bus, metrics);
    const endpoints = {
      ...monitorEndpoints(stats, bus),
      Metrics: unary(MetricsRequest, MetricsResponse, async (_req, ctx) => {
        const t = await fetchTargets(bus, { deadline: ctx.deadline });
        const counts: Record<string, number> = {};
        for (const c of t.containers) counts[c.running ? 'running' : 'exited'] = (counts[c.running ? 'running' : 'exited'] ?? 0) + 1;
        metrics.setContainerCounts(counts);
        return { text: await metrics.text() };
      }),
    };
    return {
      endpoints,
      stop: async () => {
        exits.stop();
        pulls.unsubscribe();
      },
    };
  },
};
