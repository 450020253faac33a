import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import {
  allCapabilities,
  buildCapabilities,
  capabilityNumber,
  DEFAULT_CAPABILITIES,
  effectiveCapabilityList,
} from './capabilities.js';

const sorted = (l: readonly string[]) => [...l].sort();

describe('capabilityNumber', () => {
  it('accepts names with or without CAP_, in any case', () => {
    expect(capabilityNumber('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityNumber('sys_admin')).toBe(21);
    expect(capabilityNumber('Cap_Net_Raw')).toBe(13);
    expect(capabilityNumber('all')).toBe(-1);
  });
  it('rejects unknown names, naming them', () => {
    expect(() => capabilityNumber('CAP_FLY')).toThrow(InvalidArgumentError);
    expect(() => capabilityNumber('CAP_FLY')).toThrow(/CAP_FLY/);
  });
});

describe('effectiveCapabilityList', () => {
  it('gives the CRI-O default set when nothing is asked', () => {
    expect(sorted(effectiveCapabilityList({}, []))).toEqual(sorted(DEFAULT_CAPABILITIES));
  });

  it('adds and drops single capabilities', () => {
    const l = effectiveCapabilityList({ add: ['NET_RAW', 'cap_sys_time'], drop: ['KILL', 'CAP_CHOWN'] }, []);
    expect(l).toContain('CAP_NET_RAW');
    expect(l).toContain('CAP_SYS_TIME');
    expect(l).not.toContain('CAP_KILL');
    expect(l).not.toContain('CAP_CHOWN');
  });

  it('drop ALL then add X leaves only X', () => {
    expect(effectiveCapabilityList({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] }, [])).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(effectiveCapabilityList({ drop: ['all'] }, [])).toEqual([]);
  });

  it('add ALL gives every capability, minus single drops', () => {
    const l = effectiveCapabilityList({ add: ['ALL'], drop: ['SYS_ADMIN'] }, []);
    expect(l).toHaveLength(40);
    expect(l).not.toContain('CAP_SYS_ADMIN');
  });

  it('privileged gives all capabilities of the kernel, ignoring drops', () => {
    expect(effectiveCapabilityList({ privileged: true, drop: ['ALL'] }, [])).toEqual(allCapabilities(40));
    expect(effectiveCapabilityList({ privileged: true, capLastCap: 37 }, [])).toHaveLength(38);
  });

  it('warns about and skips a capability beyond cap_last_cap', () => {
    const warnings: string[] = [];
    const l = effectiveCapabilityList({ add: ['BPF'], capLastCap: 37 }, warnings);
    expect(l).not.toContain('CAP_BPF');
    expect(warnings[0]).toMatch(/BPF/);
  });

  it('orders the list by capability number', () => {
    expect(effectiveCapabilityList({}, [])).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
      'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
    ]);
  });
});

describe('buildCapabilities', () => {
  it('fills bounding/effective/permitted, leaves inheritable and ambient empty', () => {
    const c = buildCapabilities({}, []);
    expect(sorted(c.bounding)).toEqual(sorted(DEFAULT_CAPABILITIES));
    expect(c.effective).toEqual(c.bounding);
    expect(c.permitted).toEqual(c.bounding);
    expect(c.inheritable).toEqual([]);
    expect(c.ambient).toEqual([]);
  });

  it('puts ambient capabilities in every set so the kernel keeps them', () => {
    const c = buildCapabilities({ drop: ['ALL'], ambient: ['net_admin'] }, []);
    expect(c.ambient).toEqual(['CAP_NET_ADMIN']);
    expect(c.inheritable).toEqual(['CAP_NET_ADMIN']);
    expect(c.bounding).toEqual(['CAP_NET_ADMIN']);
    expect(c.permitted).toEqual(['CAP_NET_ADMIN']);
  });
});

describe('capabilities the runtime does not hold', () => {
  // A node whose runtime lacks CAP_SYS_RESOURCE (24), as this test machine's root does.
  const bounding = ((1n << 41n) - 1n) & ~(1n << 24n);

  it('privileged gets every capability the runtime holds, and only those', () => {
    const list = effectiveCapabilityList({ privileged: true, capLastCap: 40, hostBounding: bounding }, []);
    expect(list).toHaveLength(40);
    expect(list).not.toContain('CAP_SYS_RESOURCE');
    expect(list).toContain('CAP_SYS_ADMIN');
  });

  it('an explicit add of a capability the runtime lacks is dropped with a warning', () => {
    const warnings: string[] = [];
    const list = effectiveCapabilityList({ add: ['SYS_RESOURCE', 'NET_ADMIN'], capLastCap: 40, hostBounding: bounding }, warnings);
    expect(list).toContain('CAP_NET_ADMIN');
    expect(list).not.toContain('CAP_SYS_RESOURCE');
    expect(warnings).toEqual(['capability SYS_RESOURCE is not held by the runtime on this node; not added']);
  });
});
