import { describe, expect, it } from 'vitest';
import { parseConfig } from '@crius/common';
import {
  checkCgroups,
  checkCni,
  checkConmon,
  checkKernel,
  checkOverlay,
  checkRuntimes,
  checkSocket,
  formatFindings,
  statusFindings,
  type NodeProbe,
} from './doctor-checks.js';

/** A fake node: programs with their version line, files, directories. */
function fakeNode(n: { programs?: Record<string, string | null>; files?: Record<string, string>; dirs?: Record<string, string[]>; stat?: Record<string, { mode: number; isSocket: boolean }>; release?: string }): NodeProbe {
  return {
    which: async (p) => (p in (n.programs ?? {}) ? (p.includes('/') ? p : `/usr/bin/${p}`) : undefined),
    version: async (p) => n.programs?.[p.replace(/^\/usr\/bin\//, '')] ?? n.programs?.[p] ?? undefined,
    read: async (f) => n.files?.[f],
    list: async (d) => n.dirs?.[d],
    stat: async (f) => (n.stat?.[f] ? { ...n.stat[f]!, uid: 0, gid: 0 } : undefined),
    kernelRelease: () => n.release ?? '6.1.0-18-amd64',
  };
}

const cfg = parseConfig('', 'test.toml');

describe('doctor checks', () => {
  it('fails on a missing default runtime, only warns on another handler', async () => {
    const f = await checkRuntimes(fakeNode({ programs: { crun: 'crun version 1.8.1' } }), cfg);
    expect(f).toEqual([
      { name: 'runtime runc (default)', level: 'fail', detail: 'runc not found', fix: 'apt-get install runc' },
      { name: 'runtime crun', level: 'ok', detail: 'crun version 1.8.1 (/usr/bin/crun)' },
    ]);
  });

  it('says how to build conmon when it is missing, and that a broken binary does not run', async () => {
    expect(await checkConmon(fakeNode({}), cfg, '/repo')).toMatchObject({ level: 'fail', fix: 'make -C /repo/native/conmon' });
    const broken = await checkConmon(fakeNode({ programs: { '/repo/native/conmon/build/crius-conmon': null } }), cfg, '/repo');
    expect(broken).toMatchObject({ level: 'fail', detail: expect.stringMatching(/does not run/) });
  });

  it('lists CNI plugins found and fails on a missing bridge', async () => {
    const all = fakeNode({ dirs: { '/usr/lib/cni': ['bridge', 'host-local', 'loopback', 'portmap'], '/etc/cni/net.d': ['10-crius.conflist'] } });
    expect((await checkCni(all, cfg)).map((f) => f.level)).toEqual(['ok', 'ok']);
    const some = await checkCni(fakeNode({ dirs: { '/opt/cni/bin': ['loopback'] } }), cfg);
    expect(some[0]).toMatchObject({ level: 'fail', detail: 'missing bridge, host-local in /usr/lib/cni, /opt/cni/bin' });
    expect(some.map((f) => [f.name, f.level])).toEqual([
      ['CNI plugins', 'fail'],
      ['CNI portmap', 'warn'],
      ['CNI config', 'warn'],
    ]);
  });

  it('tells cgroup v1 from v2 and refuses the systemd manager without systemd', async () => {
    expect((await checkCgroups(fakeNode({ files: { '/sys/fs/cgroup/cgroup.controllers': 'cpu memory' } }), cfg)).detail).toMatch(/^v2/);
    expect((await checkCgroups(fakeNode({ dirs: { '/sys/fs/cgroup': ['cpu', 'memory'] } }), cfg)).detail).toMatch(/^v1/);
    const systemd = parseConfig('[runtime]\ncgroup_manager = "systemd"\n');
    expect(await checkCgroups(fakeNode({ files: { '/proc/1/comm': 'bash\n' } }), systemd)).toMatchObject({ level: 'fail', fix: 'set runtime.cgroup_manager = "cgroupfs"' });
  });

  it('needs overlay in /proc/filesystems', async () => {
    expect((await checkOverlay(fakeNode({ files: { '/proc/filesystems': 'nodev\ttmpfs\nnodev\toverlay\n' } }))).level).toBe('ok');
    expect(await checkOverlay(fakeNode({ files: { '/proc/filesystems': 'nodev\ttmpfs\n' } }))).toMatchObject({ level: 'fail', fix: 'modprobe overlay' });
  });

  it('checks kernel version, namespaces, seccomp and forwarding', async () => {
    const f = await checkKernel(fakeNode({ release: '4.4.0', dirs: { '/proc/self/ns': ['mnt', 'uts', 'ipc', 'pid', 'net'] }, files: { '/proc/self/status': 'Seccomp:\t0\n', '/proc/sys/net/ipv4/ip_forward': '0\n' } }));
    expect(f.map((x) => [x.name, x.level])).toEqual([
      ['kernel', 'warn'],
      ['namespaces', 'fail'],
      ['seccomp', 'ok'],
      ['ip_forward', 'warn'],
    ]);
    expect(f[1]!.detail).toBe('missing user, cgroup namespaces');
  });

  it('checks the socket exists, is a socket, and has the configured mode', async () => {
    expect(await checkSocket(fakeNode({}), '/run/crius/crius.sock', '0660')).toMatchObject({ level: 'warn', fix: 'crius up' });
    const node = (mode: number, isSocket = true) => fakeNode({ stat: { '/s': { mode, isSocket } } });
    expect((await checkSocket(node(0o140660), '/s', '0660')).level).toBe('ok');
    expect(await checkSocket(node(0o140666), '/s', '0660')).toMatchObject({ level: 'warn', fix: 'chmod 0660 /s' });
    expect((await checkSocket(node(0o140666), '/s', '0666')).level).toBe('fail');
    expect((await checkSocket(node(0o100644, false), '/s', '0660')).level).toBe('fail');
  });

  it('turns Status into findings per condition and service', () => {
    const f = statusFindings([{ type: 'RuntimeReady', status: false, reason: 'ServiceUnavailable', message: 'image-svc: timeout' }], {
      'image-svc': JSON.stringify({ ready: false, error: 'timeout' }),
      'runtime-svc': JSON.stringify({ ready: true, version: '0.1.0', pid: 1 }),
      config: 'not json',
    });
    expect(f.map((x) => [x.name, x.level, x.detail])).toEqual([
      ['RuntimeReady', 'fail', 'false: ServiceUnavailable: image-svc: timeout'],
      ['service image-svc', 'fail', 'timeout'],
      ['service runtime-svc', 'ok', 'ready, version 0.1.0'],
    ]);
    expect(formatFindings(f.slice(1))).toBe(
      'FAIL  service image-svc    timeout\n                           fix: look at its log under <run_root>/logs, or restart crius\nok    service runtime-svc  ready, version 0.1.0',
    );
  });
});
