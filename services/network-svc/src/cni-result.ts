// Turns what a CNI plugin printed into our shapes: results of any supported
// version converted to the 1.0.0 shape, CNI error objects, and the pod's IPs
// picked out of a result. Pure functions. Owned by network-svc.
import type { CniDns, CniInterface, CniIpConfig, CniResult } from './cni-types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Converts a 0.3.x/0.4.0/1.x result to the 1.0.0 shape: 0.3.0 to 0.4.0 add an
 * `ips[].version` field ("4"/"6") that 1.0.0 dropped; everything else we use
 * is the same. `where` names the plugin call for the error message.
 */
export function toCurrentResult(raw: unknown, where: string): CniResult {
  if (!isObject(raw)) throw new Error(`${where}: result is not a JSON object`);
  const version = typeof raw.cniVersion === 'string' ? raw.cniVersion : '';
  if ('ip4' in raw || 'ip6' in raw) throw new Error(`${where}: result version ${version || '0.2.0'} is not supported (need 0.3.0 or later)`);
  const list = (key: string): unknown[] => {
    const v = raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new Error(`${where}: result key "${key}" must be an array`);
    return v;
  };
  const interfaces = list('interfaces').map((i, n) => toInterface(i, `${where}: interfaces[${n}]`));
  const ips = list('ips').map((i, n) => toIpConfig(i, `${where}: ips[${n}]`));
  const routes = list('routes').filter(isObject).map((r) => ({ dst: String(r.dst), ...(typeof r.gw === 'string' ? { gw: r.gw } : {}) }));
  const dns: CniDns = isObject(raw.dns) ? (raw.dns as CniDns) : {};
  return { cniVersion: version, interfaces, ips, routes, dns };
}

function toInterface(v: unknown, where: string): CniInterface {
  if (!isObject(v) || typeof v.name !== 'string') throw new Error(`${where}: must be an object with a string "name"`);
  const out: CniInterface = { name: v.name };
  if (typeof v.mac === 'string') out.mac = v.mac;
  if (typeof v.mtu === 'number') out.mtu = v.mtu;
  if (typeof v.sandbox === 'string') out.sandbox = v.sandbox;
  return out;
}

function toIpConfig(v: unknown, where: string): CniIpConfig {
  if (!isObject(v) || typeof v.address !== 'string' || !v.address.includes('/')) {
    throw new Error(`${where}: must have "address" in CIDR notation`);
  }
  const out: CniIpConfig = { address: v.address };
  if (typeof v.gateway === 'string') out.gateway = v.gateway;
  if (typeof v.interface === 'number') out.interface = v.interface;
  return out;
}

export interface CniErrorObject {
  code: number;
  msg: string;
  details?: string;
}

/** The error object a failing plugin prints on stdout, if it printed one. */
export function parseCniError(stdout: string): CniErrorObject | undefined {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v.code !== 'number') return undefined;
  return {
    code: v.code,
    msg: typeof v.msg === 'string' ? v.msg : '',
    ...(typeof v.details === 'string' && v.details ? { details: v.details } : {}),
  };
}

export interface PodInterface {
  name: string;
  mac?: string;
  /** Addresses in CIDR notation, in result order. */
  addresses: string[];
}

/**
 * The pod's addresses (no prefix length), in result order so the primary
 * comes first: those on an interface inside the sandbox, or with no
 * interface index at all (some IPAM-only chains).
 */
export function podIps(result: CniResult): string[] {
  return result.ips.filter((ip) => onSandbox(result, ip)).map((ip) => ip.address.split('/')[0]!);
}

export function podInterfaces(result: CniResult): PodInterface[] {
  return result.interfaces
    .map((itf, idx) => ({ itf, idx }))
    .filter(({ itf }) => itf.sandbox !== undefined && itf.sandbox !== '')
    .map(({ itf, idx }) => ({
      name: itf.name,
      ...(itf.mac ? { mac: itf.mac } : {}),
      addresses: result.ips.filter((ip) => ip.interface === idx).map((ip) => ip.address),
    }));
}

function onSandbox(result: CniResult, ip: CniIpConfig): boolean {
  if (ip.interface === undefined) return true;
  const itf = result.interfaces[ip.interface];
  return itf !== undefined && itf.sandbox !== undefined && itf.sandbox !== '';
}

