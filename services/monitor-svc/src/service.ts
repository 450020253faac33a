// monitor-svc: watches exits (handing them to runtime-svc, publishing OOM
// events), serves stats and metrics read from cgroups and pod namespaces.
import path from 'node:path';
import { serviceDirs, type ServiceDefinition } from '@crius/common';
import { FilesystemUsage } from '@crius/common/cri';
import { ContainerOomKilled } from '@crius/common/proto/events';
import { RootfsRequest, UsageResponse } from '@crius/common/proto/storage';
import { monitorEndpoints } from './bus.js';
import { ExitWatcher } from './exit-watcher.js';
import { CriStats, createCgroupReader, createRuntimeMetrics } from './stats/index.js';

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
    return { endpoints: monitorEndpoints(stats, bus), stop: async () => exits.stop() };
  },
};
