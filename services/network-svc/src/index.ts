// Public surface of network-svc: the NetworkService the bus adapter wires to
// crius.v1.network.*, plus the pieces `crius up` and tests use. Owned by network-svc.
export { NetworkService, DEFAULT_CACHE_DIR } from './network-service.js';
export type { NetworkServiceOptions, SetUpPodRequest, PodNetworkStatus } from './network-service.js';
export type { PodSetup, NetLogger } from './pod-network.js';
export type { PodInterface } from './cni-result.js';
export type { NetworkStatus } from './cni-config.js';
export { CniConfigLoader, loadNetworkConfig, parseNetworkConfig, DEFAULT_CNI_CONF_DIRS, NOT_READY_REASON } from './cni-config.js';
export { CniExecutor, CniPluginError, DEFAULT_CNI_BIN_DIRS, DEFAULT_PLUGIN_TIMEOUT_MS } from './cni-exec.js';
export { CniCache } from './cni-cache.js';
export { LinuxNetnsManager, DEFAULT_NETNS_DIR } from './netns.js';
export type { NetnsManager, NetnsEntry } from './netns.js';
export { defaultBridgeConfig, installDefaultConfigIfMissing, DEFAULT_SUBNET, DEFAULT_CONFIG_FILE } from './default-config.js';
export type { DefaultBridgeOptions } from './default-config.js';
export type { PodPortMapping } from './pod-args.js';
export type * from './cni-types.js';
