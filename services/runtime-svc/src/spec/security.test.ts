import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError, UnimplementedError } from '@crius/common';
import { NamespaceMode, NamespaceOption } from '@crius/common/cri';
import {
  containerNamespaces,
  podSysctls,
  normalizeSysctlName,
  selinuxLabels,
  validateSysctls,
  type SandboxNamespaces,
} from './security.js';

const pod: SandboxNamespaces = {
  hostNetwork: false,
  hostIpc: false,
  hostPid: false,
  netnsPath: '/run/crius/ns/net-1',
  ipcPath: '/run/crius/ns/ipc-1',
  utsPath: '/run/crius/ns/uts-1',
  pidPath: '/proc/42/ns/pid',
};
const opts = (pid: NamespaceMode, targetId = '') => NamespaceOption.fromPartial({ pid, targetId });

describe('containerNamespaces', () => {
  it('joins the pod\'s pinned namespaces and the pause PID namespace (POD)', () => {
    expect(containerNamespaces({ sandbox: pod, options: opts(NamespaceMode.POD), cgroupVersion: 1 })).toEqual([
      { type: 'mount' },
      { type: 'network', path: '/run/crius/ns/net-1' },
      { type: 'uts', path: '/run/crius/ns/uts-1' },
      { type: 'ipc', path: '/run/crius/ns/ipc-1' },
      { type: 'pid', path: '/proc/42/ns/pid' },
    ]);
  });

  it('CONTAINER → new pid ns; NODE → host pid; TARGET → the target\'s path', () => {
    const pidOf = (mode: NamespaceMode, targetPidPath?: string) =>
      containerNamespaces({ sandbox: pod, options: opts(mode, 't1'), targetPidPath, cgroupVersion: 1 }).find((n) => n.type === 'pid');
    expect(pidOf(NamespaceMode.CONTAINER)).toEqual({ type: 'pid' });
    expect(pidOf(NamespaceMode.NODE)).toBeUndefined();
    expect(pidOf(NamespaceMode.TARGET, '/proc/77/ns/pid')).toEqual({ type: 'pid', path: '/proc/77/ns/pid' });
  });

  it('fails when a needed namespace path is missing', () => {
    const noPause = { ...pod, pidPath: undefined };
    expect(() => containerNamespaces({ sandbox: noPause, options: opts(NamespaceMode.POD), cgroupVersion: 1 })).toThrow(FailedPreconditionError);
    expect(() => containerNamespaces({ sandbox: pod, options: opts(NamespaceMode.TARGET, 't1'), cgroupVersion: 1 })).toThrow(/"t1"/);
    expect(() => containerNamespaces({ sandbox: { ...pod, netnsPath: undefined }, cgroupVersion: 1 })).toThrow(/network namespace/);
  });

  it('shares host network (and UTS with it) and host IPC', () => {
    const sb = { ...pod, hostNetwork: true, hostIpc: true };
    const ns = containerNamespaces({ sandbox: sb, options: opts(NamespaceMode.CONTAINER), cgroupVersion: 1 });
    expect(ns.map((n) => n.type)).toEqual(['mount', 'pid']);
  });

  it('creates IPC/UTS namespaces when none is pinned', () => {
    const sb = { ...pod, ipcPath: undefined, utsPath: undefined };
    const ns = containerNamespaces({ sandbox: sb, options: opts(NamespaceMode.CONTAINER), cgroupVersion: 1 });
    expect(ns).toContainEqual({ type: 'ipc' });
    expect(ns).toContainEqual({ type: 'uts' });
  });

  it('adds a cgroup namespace on cgroup v2 only', () => {
    expect(containerNamespaces({ sandbox: pod, options: opts(NamespaceMode.POD), cgroupVersion: 2 })).toContainEqual({ type: 'cgroup' });
    expect(containerNamespaces({ sandbox: pod, options: opts(NamespaceMode.POD), cgroupVersion: 1 }).some((n) => n.type === 'cgroup')).toBe(false);
  });

  it('refuses a pod user namespace', () => {
    const o = NamespaceOption.fromPartial({ usernsOptions: { mode: NamespaceMode.POD } });
    expect(() => containerNamespaces({ sandbox: pod, options: o, cgroupVersion: 1 })).toThrow(UnimplementedError);
  });
});

describe('validateSysctls', () => {
  it('allows IPC and net sysctls in pod namespaces', () => {
    const s = { 'kernel.shmmax': '1', 'kernel.msgmax': '2', 'kernel.sem': '1 2 3 4', 'fs.mqueue.msg_max': '10', 'net.ipv4.ip_forward': '1' };
    expect(validateSysctls(s, pod)).toEqual(s);
  });

  it('accepts slash-separated names and emits dotted ones', () => {
    expect(normalizeSysctlName('net/ipv4/conf/eth0.100/forwarding')).toBe('net.ipv4.conf.eth0/100.forwarding');
    expect(validateSysctls({ 'net/ipv4/ip_forward': '1' }, pod)).toEqual({ 'net.ipv4.ip_forward': '1' });
  });

  it('rejects non-namespaced sysctls, naming them', () => {
    expect(() => validateSysctls({ 'vm.swappiness': '1' }, pod)).toThrow(InvalidArgumentError);
    expect(() => validateSysctls({ 'kernel.pid_max': '1' }, pod)).toThrow(/"kernel\.pid_max"/);
    expect(() => validateSysctls({ 'kernel.semx': '1' }, pod)).toThrow(/not namespaced/);
  });

  it('rejects net sysctls with host network and IPC ones with host IPC', () => {
    expect(() => validateSysctls({ 'net.core.somaxconn': '1' }, { hostNetwork: true, hostIpc: false })).toThrow(/host network/);
    expect(() => validateSysctls({ 'kernel.shmall': '1' }, { hostNetwork: false, hostIpc: true })).toThrow(/host IPC/);
  });
});

describe('selinuxLabels', () => {
  it('gives nothing when SELinux is off', () => {
    expect(selinuxLabels(false, { user: 'u', role: 'r', type: 't', level: 's0' })).toEqual({});
  });
  it('fills each field from the container, then the pod, then the default', () => {
    expect(selinuxLabels(true, { user: '', role: '', type: 'spc_t', level: '' }, { user: '', role: '', type: '', level: 's0:c1,c2' })).toEqual({
      processLabel: 'system_u:system_r:spc_t:s0:c1,c2',
      mountLabel: 'system_u:object_r:container_file_t:s0:c1,c2',
    });
    expect(selinuxLabels(true).processLabel).toBe('system_u:system_r:container_t:s0');
  });
});

describe('podSysctls', () => {
  it('gives the node defaults, the pod winning for the same name', () => {
    const w: string[] = [];
    const out = podSysctls({ 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shmmni': '100' }, { 'kernel.shmmni': '200', 'net/ipv4/ip_forward': '1' }, pod, w);
    expect(out).toEqual({ 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shmmni': '200', 'net.ipv4.ip_forward': '1' });
    expect(w).toEqual([]);
  });
  it('skips a default the pod cannot take, with a warning, but still refuses the pod asking for it', () => {
    const w: string[] = [];
    const host = { ...pod, hostNetwork: true, hostIpc: true };
    expect(podSysctls({ 'net.ipv4.ping_group_range': '0 1', 'kernel.shmmni': '1' }, {}, host, w)).toEqual({});
    expect(w).toEqual([
      'default sysctl net.ipv4.ping_group_range skipped: the pod shares the host\'s network namespace',
      'default sysctl kernel.shmmni skipped: the pod shares the host\'s IPC namespace',
    ]);
    expect(() => podSysctls({}, { 'net.ipv4.ping_group_range': '0 1' }, host, [])).toThrow(InvalidArgumentError);
  });
});
