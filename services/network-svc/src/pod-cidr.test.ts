import { describe, expect, it } from 'vitest';
import { applyPodCidr, ipRangesFor, parsePodCidrs, wantsPodCidr } from './pod-cidr.js';
import type { NetworkConfigList } from './cni-types.js';

const list: NetworkConfigList = {
  cniVersion: '1.0.0',
  name: 'n',
  plugins: [
    { type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: 'usePodCidr' }], [{ subnet: 'usePodCidrIPv6' }]] } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

describe('pod CIDR', () => {
  it('parses one CIDR or a dual-stack pair and rejects junk', () => {
    expect(parsePodCidrs('10.1.0.0/24, fd00:1::/64')).toEqual(['10.1.0.0/24', 'fd00:1::/64']);
    expect(parsePodCidrs('')).toEqual([]);
    expect(() => parsePodCidrs('10.1.0.0/33')).toThrow(/is not a CIDR/);
  });

  it('fills usePodCidr placeholders (IPv6 one from the IPv6 CIDR) without touching the original', () => {
    expect(wantsPodCidr(list)).toBe(true);
    const out = applyPodCidr(list, ['10.1.0.0/24', 'fd00:1::/64']);
    expect(out.plugins[0]!.ipam).toEqual({ type: 'host-local', ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/64' }]] });
    expect(wantsPodCidr(out)).toBe(false);
    expect((list.plugins[0]!.ipam as { ranges: unknown[][] }).ranges[0]).toEqual([{ subnet: 'usePodCidr' }]);
    expect(() => applyPodCidr(list, ['10.1.0.0/24'])).toThrow(/uses "usePodCidrIPv6" but no IPv6 pod CIDR/);
    expect(() => applyPodCidr(list, [])).toThrow(/no pod CIDR is set/);
  });

  it('builds ipRanges with one range set per CIDR', () => {
    expect(ipRangesFor(['10.1.0.0/24', 'fd00:1::/64'])).toEqual([[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/64' }]]);
    expect(ipRangesFor([])).toBeUndefined();
  });
});
