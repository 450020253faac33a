// Out-of-the-box pod networking: when the first CNI config dir holds no
// config, `crius up` installs a bridge + host-local + portmap network on the
// configured private subnet, with IPAM leases kept in network-svc's state.
import path from 'node:path';
import { serviceDirs, type CriusConfig } from '@crius/common';
import { installDefaultConfigIfMissing } from '@crius/network-svc';

export async function installDefaultNetwork(cfg: CriusConfig, log: (line: string) => void): Promise<void> {
  const dir = cfg.network.cni_conf_dirs[0];
  if (!dir) return;
  const written = await installDefaultConfigIfMissing(dir, cfg.network.default_subnet, {
    bridge: cfg.network.default_bridge,
    dataDir: path.join(serviceDirs(cfg, 'network').state, 'ipam'),
  });
  if (written) log(`installed default CNI config ${written} (bridge ${cfg.network.default_bridge}, ${cfg.network.default_subnet})`);
}
