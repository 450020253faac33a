// Shapes of CNI network configuration, runtime capability arguments and
// results (CNI spec 1.0.0), as network-svc uses them. Owned by network-svc.

/** One plugin entry of a network configuration list. Unknown keys pass through to the plugin. */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A network configuration list; a single-plugin .conf is wrapped into this shape. */
export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
  [key: string]: unknown;
}

/** portMappings capability entry (CNI conventions). */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

/** bandwidth capability: rates in bits per second, bursts in bits. */
export interface CniBandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** ipRanges capability entry, as host-local `ranges` items. */
export interface CniIpRange {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

/** Values the runtime fills into `runtimeConfig` for plugins declaring the capability. */
export interface CapabilityArgs {
  portMappings?: CniPortMapping[];
  bandwidth?: CniBandwidth;
  ipRanges?: CniIpRange[][];
}

/** Everything but the config that one attachment's plugin calls share. */
export interface AttachmentArgs {
  containerId: string;
  /** Path of the pinned namespace; '' when it no longer exists (DEL only). */
  netnsPath: string;
  ifName: string;
  /** CNI_ARGS pairs, in order. */
  cniArgs: Array<[string, string]>;
  capabilityArgs: CapabilityArgs;
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR notation, e.g. 10.88.0.5/16. */
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the 1.0.0 shape, whatever version the plugin spoke. */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}
