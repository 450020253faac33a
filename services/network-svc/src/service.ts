// network-svc: load CNI config (watching for changes), then serve pod
// networks. Pinned namespaces of sandboxes runtime-svc no longer knows are
// removed when runtime-svc calls ReconcileNetwork after its own recovery.
import path from 'node:path';
import type { ServiceDefinition } from '@crius/common';
import { networkEndpoints } from './bus.js';
import { NetworkService } from './network-service.js';
import { portBridgePath } from './port-forward.js';

export const networkService: ServiceDefinition = {
  name: 'network',
  version: '0.1.0',
  async start({ config, dirs, log, bus }) {
    const net = new NetworkService({
      netnsDir: config.network.netns_dir || path.join(config.state.run_root, 'netns'),
      cniConfDirs: config.network.cni_conf_dirs,
      cniBinDirs: config.network.cni_bin_dirs,
      cacheDir: dirs.state,
      pluginTimeoutMs: config.network.plugin_timeout * 1000,
      logger: log,
    });
    await net.start();
    return {
      endpoints: networkEndpoints(net, { nc: bus.nc, log, portBridge: portBridgePath(config.runtime.conmon) }),
      conditions: async () => {
        const s = await net.status();
        return [{ type: 'NetworkReady', status: s.ready, reason: s.reason ?? '', message: s.message ?? '' }];
      },
      stop: async () => net.close(),
    };
  },
};
