// Hands the node's pod CIDR (CRI UpdateRuntimeConfig) to CNI. Two ways, both
// opt-in by the config: (1) any `"subnet": "usePodCidr"` in a plugin's config
// is replaced by the first pod CIDR (`"usePodCidrIPv6"` by the first IPv6
// one), e.g. host-local `ranges: [[{"subnet": "usePodCidr"}]]`; (2) plugins
// declaring the `ipRanges` capability get runtimeConfig.ipRanges with one
// range set per pod CIDR. Pure functions. Owned by network-svc.
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@crius/common';
import type { CniIpRange, NetworkConfigList } from './cni-types.js';

export const USE_POD_CIDR = 'usePodCidr';
export const USE_POD_CIDR_V6 = 'usePodCidrIPv6';

export function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

/** Parses UpdateRuntimeConfig's pod_cidr: one CIDR, or a comma-separated pair for dual-stack; '' clears it. */
export function parsePodCidrs(value: string): string[] {
  const cidrs = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of cidrs) if (!isCidr(c)) throw new InvalidArgumentError(`pod CIDR ${JSON.stringify(value)}: ${JSON.stringify(c)} is not a CIDR`);
  return cidrs;
}

/** True when the config has a usePodCidr placeholder anywhere. */
export function wantsPodCidr(list: NetworkConfigList): boolean {
  const seen = (v: unknown): boolean => {
    if (v === USE_POD_CIDR || v === USE_POD_CIDR_V6) return true;
    if (typeof v !== 'object' || v === null) return false;
    return Object.values(v).some(seen);
  };
  return list.plugins.some(seen);
}

/** A copy of the list with placeholders filled; throws when one cannot be. */
export function applyPodCidr(list: NetworkConfigList, podCidrs: readonly string[]): NetworkConfigList {
  const v6 = podCidrs.find((c) => isIP(c.split('/')[0]!) === 6);
  const fill = (v: unknown, key?: string): unknown => {
    if (key === 'subnet' && (v === USE_POD_CIDR || v === USE_POD_CIDR_V6)) {
      const cidr = v === USE_POD_CIDR ? podCidrs[0] : v6;
      if (!cidr) throw new InvalidArgumentError(`network "${list.name}" uses "${v}" but no ${v === USE_POD_CIDR ? '' : 'IPv6 '}pod CIDR is set (UpdateRuntimeConfig)`);
      return cidr;
    }
    if (Array.isArray(v)) return v.map((x) => fill(x));
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, k)]));
    return v;
  };
  return { ...list, plugins: list.plugins.map((p) => fill(p) as typeof p) };
}

/** runtimeConfig.ipRanges value: one range set per pod CIDR, so dual-stack yields one IP per family. */
export function ipRangesFor(podCidrs: readonly string[]): CniIpRange[][] | undefined {
  return podCidrs.length ? podCidrs.map((subnet) => [{ subnet }]) : undefined;
}
