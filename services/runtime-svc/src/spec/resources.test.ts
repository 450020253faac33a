import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { LinuxContainerResources } from '@crius/common/cri';
import { buildResources, cgroupsPath } from './resources.js';

const v1 = { cgroupVersion: 1 as const };
const v2 = { cgroupVersion: 2 as const };

describe('buildResources', () => {
  it('maps cpu and cpuset fields', () => {
    const r = LinuxContainerResources.fromPartial({
      cpuShares: 512n, cpuQuota: 50000n, cpuPeriod: 100000n, cpusetCpus: '0-1', cpusetMems: '0',
    });
    expect(buildResources(r, v1, []).cpu).toEqual({ shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' });
  });

  it('leaves out fields that are zero/empty', () => {
    expect(buildResources(LinuxContainerResources.fromPartial({}), v1, [])).toEqual({});
    expect(buildResources(undefined, v1, [])).toEqual({});
  });

  it('sets swap equal to the memory limit when no swap limit is given', () => {
    const r = LinuxContainerResources.fromPartial({ memoryLimitInBytes: 128n << 20n });
    expect(buildResources(r, v1, []).memory).toEqual({ limit: 134217728, swap: 134217728 });
  });

  it('passes an explicit swap limit', () => {
    const r = LinuxContainerResources.fromPartial({ memoryLimitInBytes: 100n, memorySwapLimitInBytes: 300n });
    expect(buildResources(r, v2, []).memory).toEqual({ limit: 100, swap: 300 });
  });

  it('omits swap without swap accounting, warning if one was asked for', () => {
    const warnings: string[] = [];
    const r = LinuxContainerResources.fromPartial({ memoryLimitInBytes: 100n, memorySwapLimitInBytes: 300n });
    expect(buildResources(r, { ...v1, swapSupported: false }, warnings).memory).toEqual({ limit: 100 });
    expect(warnings[0]).toMatch(/swap/);
  });

  it('maps hugepage limits', () => {
    const r = LinuxContainerResources.fromPartial({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304n }] });
    expect(buildResources(r, v1, []).hugepageLimits).toEqual([{ pageSize: '2MB', limit: 4194304 }]);
    const bad = LinuxContainerResources.fromPartial({ hugepageLimits: [{ pageSize: '', limit: 1n }] });
    expect(() => buildResources(bad, v1, [])).toThrow(InvalidArgumentError);
  });

  it('passes unified settings on cgroup v2 only', () => {
    const r = LinuxContainerResources.fromPartial({ unified: { 'memory.high': '1000000' } });
    expect(buildResources(r, v2, []).unified).toEqual({ 'memory.high': '1000000' });
    const warnings: string[] = [];
    expect(buildResources(r, v1, warnings).unified).toBeUndefined();
    expect(warnings[0]).toMatch(/memory\.high/);
  });

  it('applies the default pids limit', () => {
    expect(buildResources(undefined, { ...v1, defaultPidsLimit: 1024 }, []).pids).toEqual({ limit: 1024 });
    expect(buildResources(undefined, { ...v1, defaultPidsLimit: 0 }, []).pids).toBeUndefined();
  });
});

describe('cgroupsPath', () => {
  it('cgroupfs: <parent>/<id>', () => {
    expect(cgroupsPath('cgroupfs', '/kubepods/besteffort/pod1', 'abc')).toBe('/kubepods/besteffort/pod1/abc');
    expect(cgroupsPath('cgroupfs', '', 'abc')).toBe('/crius/abc');
  });
  it('cgroupfs: rejects relative and slice parents', () => {
    expect(() => cgroupsPath('cgroupfs', 'kubepods', 'abc')).toThrow(InvalidArgumentError);
    expect(() => cgroupsPath('cgroupfs', '/kubepods.slice', 'abc')).toThrow(/systemd slice/);
  });
  it('systemd: slice:prefix:name', () => {
    expect(cgroupsPath('systemd', 'kubepods-besteffort-pod1.slice', 'abc')).toBe('kubepods-besteffort-pod1.slice:crius:abc');
    expect(cgroupsPath('systemd', '/kubepods.slice/kubepods-pod1.slice', 'abc')).toBe('kubepods-pod1.slice:crius:abc');
    expect(cgroupsPath('systemd', '', 'abc')).toBe('system.slice:crius:abc');
  });
  it('systemd: rejects a parent that is not a slice', () => {
    expect(() => cgroupsPath('systemd', '/kubepods/pod1', 'abc')).toThrow(/not a systemd slice/);
  });
});
