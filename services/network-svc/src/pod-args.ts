// Turns a pod's CRI-level network inputs (port mappings, bandwidth limits or
// the kubernetes.io/{ingress,egress}-bandwidth annotations) into CNI
// capability arguments. Pure functions. Owned by network-svc.
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@crius/common';
import type { CniBandwidth, CniPortMapping } from './cni-types.js';

/** A CRI PortMapping; protocol as the CRI enum (0 TCP, 1 UDP, 2 SCTP) or its name. */
export interface PodPortMapping {
  protocol?: string | number;
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

const PROTOCOLS: Record<string, CniPortMapping['protocol']> = { '0': 'tcp', '1': 'udp', '2': 'sctp', tcp: 'tcp', udp: 'udp', sctp: 'sctp' };

function validPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

/** Mappings with a host port, in CNI form; those without one only document a container port and are dropped (as kubelet does). */
export function toCniPortMappings(mappings: readonly PodPortMapping[] = []): CniPortMapping[] {
  const out: CniPortMapping[] = [];
  for (const [i, m] of mappings.entries()) {
    if (!m.hostPort) continue;
    const where = `portMappings[${i}]`;
    const protocol = PROTOCOLS[String(m.protocol ?? 'tcp').toLowerCase()];
    if (!protocol) throw new InvalidArgumentError(`${where}.protocol: unknown protocol ${JSON.stringify(m.protocol)}`);
    if (!validPort(m.hostPort)) throw new InvalidArgumentError(`${where}.hostPort: ${m.hostPort} is not a port (1-65535)`);
    if (!validPort(m.containerPort)) throw new InvalidArgumentError(`${where}.containerPort: ${m.containerPort} is not a port (1-65535)`);
    if (m.hostIp && !isIP(m.hostIp)) throw new InvalidArgumentError(`${where}.hostIp: ${JSON.stringify(m.hostIp)} is not an IP address`);
    out.push({ hostPort: m.hostPort, containerPort: m.containerPort, protocol, ...(m.hostIp ? { hostIP: m.hostIp } : {}) });
  }
  return out;
}

const SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Parses a Kubernetes quantity such as "10M", "1Gi" or "500k" into a number. */
export function parseQuantity(s: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)\s*$/.exec(s);
  const mult = m ? SUFFIX[m[2]!] : undefined;
  if (!m || mult === undefined) throw new InvalidArgumentError(`invalid quantity ${JSON.stringify(s)} (want e.g. 10M, 1Gi)`);
  return Math.round(Number(m[1]) * mult);
}

export const INGRESS_ANNOTATION = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_ANNOTATION = 'kubernetes.io/egress-bandwidth';
// The annotations carry only a rate; without a burst the bandwidth plugin
// refuses the limit, so use the largest burst it accepts (effectively "rate only").
export const UNLIMITED_BURST = 2 ** 32 - 1;

/** Explicit limits win; otherwise the kubernetes.io bandwidth annotations, in bits per second. */
export function bandwidthFor(explicit?: CniBandwidth, annotations: Record<string, string> = {}): CniBandwidth | undefined {
  if (explicit && Object.values(explicit).some((v) => v !== undefined)) return explicit;
  const out: CniBandwidth = {};
  const ingress = annotations[INGRESS_ANNOTATION];
  const egress = annotations[EGRESS_ANNOTATION];
  try {
    if (ingress) Object.assign(out, { ingressRate: parseQuantity(ingress), ingressBurst: UNLIMITED_BURST });
    if (egress) Object.assign(out, { egressRate: parseQuantity(egress), egressBurst: UNLIMITED_BURST });
  } catch (err) {
    throw new InvalidArgumentError(`bandwidth annotation: ${(err as Error).message}`, { cause: err });
  }
  return Object.keys(out).length ? out : undefined;
}
