// Container capability sets from CRI add/drop/ambient lists and `privileged`.
// Owned by runtime-svc/spec. The default set is [runtime] default_capabilities
// (CRI-O's list unless the node names another).
import { CAPABILITY_NAMES, CRIO_DEFAULT_CAPABILITIES, InvalidArgumentError } from '@crius/common';
import type { OciCapabilities } from './oci-types.js';

/** Linux capability names by number (linux/capability.h), without "CAP_". */
export { CAPABILITY_NAMES };

/** What an unprivileged container gets when the request adds/drops nothing and the config names no other set. */
export const DEFAULT_CAPABILITIES: readonly string[] = CRIO_DEFAULT_CAPABILITIES.map((c) => `CAP_${c}`);

export const DEFAULT_CAP_LAST_CAP = 40;

export interface CapabilityRequest {
  add?: string[];
  drop?: string[];
  ambient?: string[];
  privileged?: boolean;
  /** The node's default set ([runtime] default_capabilities); absent = CRI-O's. */
  defaults?: readonly string[];
  /** /proc/sys/kernel/cap_last_cap of the host (default 40). */
  capLastCap?: number;
  /**
   * The capabilities runtime-svc itself holds (CapBnd of /proc/self/status).
   * The runtime cannot grant more: "all" (privileged, add ALL) means all of
   * these, as containerd's WithAllCurrentCapabilities; undefined = no limit.
   */
  hostBounding?: bigint;
}

/** The capability number of a CRI name: "CAP_" optional, any case; "ALL" → -1. */
export function capabilityNumber(name: string): number {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return -1;
  const bare = upper.startsWith('CAP_') ? upper.slice(4) : upper;
  const n = CAPABILITY_NAMES.indexOf(bare);
  if (n < 0) throw new InvalidArgumentError(`unknown capability "${name}"`);
  return n;
}

/** Every capability the host kernel knows (0..capLastCap), as CAP_ names. */
export function allCapabilities(capLastCap = DEFAULT_CAP_LAST_CAP): string[] {
  const last = Math.min(capLastCap, CAPABILITY_NAMES.length - 1);
  return CAPABILITY_NAMES.slice(0, last + 1).map((n) => `CAP_${n}`);
}

/**
 * The effective list, applied in containerd's order: add ALL, drop ALL, then
 * single adds, then single drops (so "drop ALL, add X" leaves just X).
 */
export function effectiveCapabilityList(req: CapabilityRequest, warnings: string[]): string[] {
  const last = req.capLastCap ?? DEFAULT_CAP_LAST_CAP;
  const held = (n: number) => req.hostBounding === undefined || ((req.hostBounding >> BigInt(n)) & 1n) === 1n;
  if (req.privileged) return allCapabilities(last).filter((_name, n) => held(n));
  const add = (req.add ?? []).map((n) => ({ n, num: capabilityNumber(n) }));
  const drop = (req.drop ?? []).map((n) => ({ n, num: capabilityNumber(n) }));
  const set = new Set<number>((req.defaults ?? DEFAULT_CAPABILITIES).map(capabilityNumber));
  if (add.some((a) => a.num < 0)) for (let i = 0; i <= last; i++) set.add(i);
  if (drop.some((d) => d.num < 0)) set.clear();
  for (const a of add) {
    if (a.num < 0) continue;
    if (a.num > last) warnings.push(`capability ${a.n} is not known to this kernel; not added`);
    else if (!held(a.num)) warnings.push(`capability ${a.n} is not held by the runtime on this node; not added`);
    else set.add(a.num);
  }
  for (const d of drop) if (d.num >= 0) set.delete(d.num);
  return [...set]
    .filter((n) => n <= last && held(n))
    .sort((a, b) => a - b)
    .map((n) => `CAP_${CAPABILITY_NAMES[n]}`);
}

/**
 * OCI capability sets: the list goes to bounding, effective and permitted;
 * inheritable stays empty as current runtimes do. Ambient capabilities
 * (CRI add_ambient_capabilities) must also be inheritable and permitted for
 * the kernel to keep them, so they are added to every set.
 */
export function buildCapabilities(req: CapabilityRequest, warnings: string[]): OciCapabilities {
  const list = effectiveCapabilityList(req, warnings);
  const ambient = (req.ambient ?? []).map((n) => {
    const num = capabilityNumber(n);
    if (num < 0) throw new InvalidArgumentError('ambient capability "ALL" is not supported');
    return `CAP_${CAPABILITY_NAMES[num]}`;
  });
  const withAmbient = [...new Set([...list, ...ambient])];
  return {
    bounding: withAmbient,
    effective: withAmbient,
    permitted: withAmbient,
    inheritable: [...ambient],
    ambient,
  };
}
