// storage-svc: reconcile layers and rootfs mounts with the disk, then serve.
// Rootfs records whose container runtime-svc no longer knows are reported by
// ReconcileRootfs, which runtime-svc calls once it has recovered.
import { contentStoreDir, type ServiceDefinition } from '@crius/common';
import { storageEndpoints } from './bus.js';
import { StorageService } from './storage-service.js';

export const storageService: ServiceDefinition = {
  name: 'storage',
  version: '0.1.0',
  async start({ config, dirs, log }) {
    const storage = await StorageService.open({ root: dirs.state, contentRoot: contentStoreDir(config) });
    const report = await storage.reconcile();
    log.info({ report }, 'reconciled layers and rootfs mounts');
    return { endpoints: storageEndpoints(storage) };
  },
};
