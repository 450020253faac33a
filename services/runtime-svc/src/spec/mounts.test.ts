import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnimplementedError } from '@crius/common';
import { Mount, MountPropagation, type DeepPartial } from '@crius/common/cri';
import {
  buildMounts,
  criMount,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  protectedPaths,
  sortMounts,
  validateContainerPath,
  type MountsInput,
} from './mounts.js';

const m = (p: DeepPartial<Mount>) => Mount.fromPartial({ hostPath: '/host/data', ...p });
const base: MountsInput = { mounts: [], privileged: false, readonlyRootfs: false };
const dests = (l: { destination: string }[]) => l.map((x) => x.destination);

describe('defaultMounts', () => {
  it('mounts the kernel filesystems with the usual options', () => {
    const d = defaultMounts({ privileged: false });
    expect(dests(d)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    const pts = d.find((x) => x.destination === '/dev/pts')!;
    expect(pts.type).toBe('devpts');
    expect(pts.options).toEqual(expect.arrayContaining(['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']));
    expect(d.find((x) => x.destination === '/sys')!.options).toContain('ro');
    expect(d.find((x) => x.destination === '/sys/fs/cgroup')!.options).toContain('ro');
    expect(d.find((x) => x.destination === '/dev/shm')).toMatchObject({ type: 'tmpfs' });
    expect(d.find((x) => x.destination === '/dev/shm')!.options).toContain(`size=${64 * 1024 * 1024}`);
  });

  it('makes /sys and the cgroup fs writable when privileged', () => {
    const d = defaultMounts({ privileged: true });
    expect(d.find((x) => x.destination === '/sys')!.options).not.toContain('ro');
    expect(d.find((x) => x.destination === '/sys/fs/cgroup')!.options).not.toContain('ro');
  });

  it('binds the sandbox shm when there is one', () => {
    const shm = defaultMounts({ privileged: false, shmPath: '/run/crius/sb/shm' }).find((x) => x.destination === '/dev/shm');
    expect(shm).toMatchObject({ type: 'bind', source: '/run/crius/sb/shm' });
  });
});

describe('criMount', () => {
  it('maps propagation and readonly', () => {
    expect(criMount(m({ containerPath: '/a' })).options).toEqual(['rbind', 'rprivate', 'rw']);
    expect(criMount(m({ containerPath: '/a', readonly: true, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER })).options)
      .toEqual(['rbind', 'rslave', 'ro']);
    expect(criMount(m({ containerPath: '/a', propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL })).options)
      .toEqual(['rbind', 'rshared', 'rw']);
  });

  it('refuses relative or .. container paths and relative host paths', () => {
    expect(() => criMount(m({ containerPath: 'data' }))).toThrow(InvalidArgumentError);
    expect(() => criMount(m({ containerPath: '/data/../etc' }))).toThrow(/"\/data\/\.\.\/etc"/);
    expect(() => criMount(m({ containerPath: '/data', hostPath: 'rel' }))).toThrow(/host_path "rel"/);
  });

  it('refuses image volumes, id-mapped and recursive read-only mounts', () => {
    expect(() => criMount(m({ containerPath: '/i', image: { image: 'busybox' } }))).toThrow(UnimplementedError);
    expect(() => criMount(m({ containerPath: '/i', uidMappings: [{ hostId: 1, containerId: 0, length: 1 }] })))
      .toThrow(UnimplementedError);
    expect(() => criMount(m({ containerPath: '/i', readonly: true, recursiveReadOnly: true }))).toThrow(InvalidArgumentError);
  });

  it('normalises the destination', () => {
    expect(validateContainerPath('/a//b/./c/')).toBe('/a/b/c');
    expect(validateContainerPath('/')).toBe('/');
  });
});

describe('sortMounts', () => {
  it('puts parents before children and keeps order among equals', () => {
    const sorted = sortMounts([
      { destination: '/a/b/c' }, { destination: '/x' }, { destination: '/a' }, { destination: '/a/b' }, { destination: '/b' },
    ]);
    expect(dests(sorted)).toEqual(['/x', '/a', '/b', '/a/b', '/a/b/c']);
  });
});

describe('buildMounts', () => {
  it('adds the pod files, rw normally and ro with a read-only rootfs', () => {
    const files = { hostsPath: '/sb/hosts', resolvPath: '/sb/resolv.conf', hostnamePath: '/sb/hostname' };
    const rw = buildMounts({ ...base, ...files }).mounts.filter((x) => x.destination.startsWith('/etc/'));
    expect(dests(rw)).toEqual(['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']);
    expect(rw.every((x) => x.options!.includes('rw'))).toBe(true);
    const ro = buildMounts({ ...base, ...files, readonlyRootfs: true }).mounts.filter((x) => x.destination.startsWith('/etc/'));
    expect(ro.every((x) => x.options!.includes('ro'))).toBe(true);
  });

  it('lets a CRI mount replace a default mount at the same destination', () => {
    const r = buildMounts({ ...base, hostsPath: '/sb/hosts', mounts: [m({ containerPath: '/etc/hosts/', hostPath: '/mine' }), m({ containerPath: '/dev/shm', hostPath: '/big' })] });
    expect(r.mounts.filter((x) => x.destination === '/etc/hosts')).toEqual([
      { destination: '/etc/hosts', type: 'bind', source: '/mine', options: ['rbind', 'rprivate', 'rw'] },
    ]);
    expect(r.mounts.filter((x) => x.destination === '/dev/shm').map((x) => x.source)).toEqual(['/big']);
  });

  it('sorts a child CRI mount after its parent', () => {
    const r = buildMounts({ ...base, mounts: [m({ containerPath: '/data/sub' }), m({ containerPath: '/data' })] });
    const d = dests(r.mounts);
    expect(d.indexOf('/data')).toBeLessThan(d.indexOf('/data/sub'));
    expect(d.indexOf('/dev')).toBeLessThan(d.indexOf('/dev/pts'));
  });

  it('rejects two CRI mounts at one destination', () => {
    expect(() => buildMounts({ ...base, mounts: [m({ containerPath: '/d' }), m({ containerPath: '/d/' })] })).toThrow(/duplicate/);
  });

  it('sets rootfs propagation for shared and slave mounts', () => {
    expect(buildMounts(base).rootfsPropagation).toBeUndefined();
    const slave = m({ containerPath: '/s', propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER });
    const shared = m({ containerPath: '/t', propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL });
    expect(buildMounts({ ...base, mounts: [slave] }).rootfsPropagation).toBe('rslave');
    expect(buildMounts({ ...base, mounts: [slave, shared] }).rootfsPropagation).toBe('rshared');
  });

  it('reports the selinux_relabel paths (whether to relabel is the labeler\'s decision)', () => {
    const mounts = [m({ containerPath: '/r', hostPath: '/relabel-me', selinuxRelabel: true }), m({ containerPath: '/n' })];
    expect(buildMounts({ ...base, mounts }).relabelPaths).toEqual(['/relabel-me']);
  });
});

describe('protectedPaths', () => {
  it('uses the defaults when the request lists none', () => {
    const p = protectedPaths({ maskedPaths: [], readonlyPaths: [] }, false);
    expect(p.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(p.readonlyPaths).toEqual(DEFAULT_READONLY_PATHS);
    expect(p.maskedPaths).toContain('/proc/kcore');
    expect(p.readonlyPaths).toContain('/proc/sys');
  });
  it('uses the request\'s lists when given', () => {
    expect(protectedPaths({ maskedPaths: ['/proc/x'], readonlyPaths: ['/proc/y'] }, false)).toEqual({
      maskedPaths: ['/proc/x'],
      readonlyPaths: ['/proc/y'],
    });
  });
  it('has none for privileged containers', () => {
    expect(protectedPaths({ maskedPaths: ['/proc/x'], readonlyPaths: [] }, true)).toEqual({ maskedPaths: [], readonlyPaths: [] });
  });
});
