import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { bandwidthFor, parseQuantity, toCniPortMappings, UNLIMITED_BURST } from './pod-args.js';

describe('toCniPortMappings', () => {
  it('maps CRI port mappings (enum or name protocols), dropping those without a host port', () => {
    expect(
      toCniPortMappings([
        { protocol: 0, containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' },
        { protocol: 'UDP', containerPort: 53, hostPort: 5353 },
        { protocol: 2, containerPort: 9, hostPort: 9 },
        { protocol: 'TCP', containerPort: 443, hostPort: 0 },
      ]),
    ).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp' },
      { hostPort: 9, containerPort: 9, protocol: 'sctp' },
    ]);
  });

  it('rejects bad ports, protocols and host IPs naming the entry', () => {
    expect(() => toCniPortMappings([{ protocol: 'icmp', containerPort: 1, hostPort: 1 }])).toThrow(/portMappings\[0\]\.protocol/);
    expect(() => toCniPortMappings([{ containerPort: 0, hostPort: 1 }])).toThrow(/portMappings\[0\]\.containerPort/);
    expect(() => toCniPortMappings([{ containerPort: 1, hostPort: 70000 }])).toThrow(InvalidArgumentError);
    expect(() => toCniPortMappings([{ containerPort: 1, hostPort: 1, hostIp: 'localhost' }])).toThrow(/hostIp/);
  });
});

describe('bandwidth', () => {
  it('parses Kubernetes quantities', () => {
    expect(parseQuantity('10M')).toBe(10_000_000);
    expect(parseQuantity('1Mi')).toBe(1_048_576);
    expect(parseQuantity('1.5k')).toBe(1500);
    expect(() => parseQuantity('10 bogus')).toThrow(/invalid quantity/);
  });

  it('prefers explicit limits, else reads the kubernetes.io annotations', () => {
    expect(bandwidthFor({ ingressRate: 1, ingressBurst: 2 }, { 'kubernetes.io/egress-bandwidth': '1M' })).toEqual({ ingressRate: 1, ingressBurst: 2 });
    expect(bandwidthFor(undefined, { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '1M' })).toEqual({
      ingressRate: 10_000_000,
      ingressBurst: UNLIMITED_BURST,
      egressRate: 1_000_000,
      egressBurst: UNLIMITED_BURST,
    });
    expect(bandwidthFor(undefined, {})).toBeUndefined();
    expect(() => bandwidthFor(undefined, { 'kubernetes.io/ingress-bandwidth': 'lots' })).toThrow(/bandwidth annotation/);
  });
});
