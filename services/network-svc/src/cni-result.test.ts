import { describe, expect, it } from 'vitest';
import { parseCniError, podInterfaces, podIps, toCurrentResult } from './cni-result.js';

// The shape the bridge plugin returns: host veth, bridge, then the pod's eth0.
const v040 = {
  cniVersion: '0.4.0',
  interfaces: [
    { name: 'cni0', mac: 'aa:aa:aa:aa:aa:01' },
    { name: 'veth1', mac: 'aa:aa:aa:aa:aa:02' },
    { name: 'eth0', mac: 'aa:aa:aa:aa:aa:03', sandbox: '/run/netns/x' },
  ],
  ips: [
    { version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 2 },
    { version: '6', address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
    { version: '4', address: '10.9.9.9/24', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: { nameservers: ['10.1.0.1'] },
};

describe('toCurrentResult', () => {
  it('converts a 0.4.0 result to the 1.0.0 shape (no ips[].version)', () => {
    const r = toCurrentResult(v040, 'test');
    expect(r.cniVersion).toBe('0.4.0');
    expect(r.ips[0]).toEqual({ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 2 });
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(r.dns).toEqual({ nameservers: ['10.1.0.1'] });
  });

  it('fills missing lists and rejects malformed or pre-0.3 results naming the call', () => {
    expect(toCurrentResult({ cniVersion: '1.0.0' }, 'x')).toEqual({ cniVersion: '1.0.0', interfaces: [], ips: [], routes: [], dns: {} });
    expect(() => toCurrentResult({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/8' } }, 'plugin bridge')).toThrow(/plugin bridge: result version 0.2.0/);
    expect(() => toCurrentResult({ ips: [{ address: '10.0.0.2' }] }, 'p')).toThrow(/p: ips\[0\]: must have "address" in CIDR/);
    expect(() => toCurrentResult('nope', 'p')).toThrow(/not a JSON object/);
  });
});

describe('podIps / podInterfaces', () => {
  it('keeps only addresses on sandbox interfaces, primary first, without prefix', () => {
    const r = toCurrentResult(v040, 't');
    expect(podIps(r)).toEqual(['10.1.0.5', 'fd00::5']);
    expect(podInterfaces(r)).toEqual([{ name: 'eth0', mac: 'aa:aa:aa:aa:aa:03', addresses: ['10.1.0.5/24', 'fd00::5/64'] }]);
  });

  it('counts addresses with no interface index as the pod\'s', () => {
    expect(podIps(toCurrentResult({ cniVersion: '1.0.0', ips: [{ address: '10.2.0.7/16' }] }, 't'))).toEqual(['10.2.0.7']);
  });
});

describe('parseCniError', () => {
  it('reads the spec error object and ignores other output', () => {
    expect(parseCniError('{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"lock"}')).toEqual({ code: 11, msg: 'busy', details: 'lock' });
    expect(parseCniError('{"code":7,"msg":"bad"}')).toEqual({ code: 7, msg: 'bad' });
    expect(parseCniError('panic: oops')).toBeUndefined();
    expect(parseCniError('{"ips":[]}')).toBeUndefined();
  });
});
