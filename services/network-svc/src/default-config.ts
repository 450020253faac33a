// The network `crius up` installs when a node has none: a bridge with
// host-local IPAM (one range set per subnet, so two subnets give dual-stack)
// and portmap for hostPorts. Loopback is not in the list: network-svc brings
// lo up itself when it creates the namespace. Owned by network-svc.
import { readdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { InvalidArgumentError } from '@crius/common';
import { writeJsonAtomic } from '@crius/common';
import { isConfigFileName } from './cni-config.js';
import type { NetworkConfigList } from './cni-types.js';
import { isCidr } from './pod-cidr.js';

export const DEFAULT_SUBNET = '10.88.0.0/16';
export const DEFAULT_CONFIG_FILE = '10-crius-bridge.conflist';

export interface DefaultBridgeOptions {
  name?: string;
  bridge?: string;
  /** host-local lease dir; the plugin's default (/var/lib/cni/networks) when unset. */
  dataDir?: string;
  /** SNAT traffic leaving the node; off is useful for tests that must not touch host NAT. */
  ipMasq?: boolean;
  /** Include the portmap plugin (hostPort support). */
  portMap?: boolean;
}

export function defaultBridgeConfig(subnet: string | string[] = DEFAULT_SUBNET, opts: DefaultBridgeOptions = {}): NetworkConfigList {
  const subnets = Array.isArray(subnet) ? subnet : [subnet];
  if (subnets.length === 0) throw new InvalidArgumentError('defaultBridgeConfig: at least one subnet is needed');
  for (const s of subnets) if (!isCidr(s)) throw new InvalidArgumentError(`defaultBridgeConfig: subnet ${JSON.stringify(s)} is not a CIDR`);
  const routes = subnets.map((s) => ({ dst: isIP(s.split('/')[0]!) === 6 ? '::/0' : '0.0.0.0/0' }));
  const plugins: NetworkConfigList['plugins'] = [
    {
      type: 'bridge',
      bridge: opts.bridge ?? 'crius0',
      isGateway: true,
      ipMasq: opts.ipMasq ?? true,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        ranges: subnets.map((s) => [{ subnet: s }]),
        routes,
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      },
    },
  ];
  if (opts.portMap ?? true) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  return { cniVersion: '1.0.0', name: opts.name ?? 'crius', plugins };
}

/** Writes the default config into dir unless it already holds a config file; returns the path written. */
export async function installDefaultConfigIfMissing(
  dir: string,
  subnet: string | string[] = DEFAULT_SUBNET,
  opts: DefaultBridgeOptions = {},
): Promise<string | undefined> {
  let existing: string[] = [];
  try {
    existing = (await readdir(dir)).filter(isConfigFileName);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing.length > 0) return undefined;
  const path = join(dir, DEFAULT_CONFIG_FILE);
  await writeJsonAtomic(path, defaultBridgeConfig(subnet, opts), 0o644);
  return path;
}
