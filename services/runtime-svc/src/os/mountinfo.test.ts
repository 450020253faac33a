import { describe, expect, it } from 'vitest';
import { mountContaining, parseMountInfo, propagationOf, propagationProblem } from './mountinfo.js';

// Shaped like a real host's /proc/self/mountinfo (proc(5)).
const TEXT = [
  '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
  '23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
  '30 22 0:26 / /tmp rw,nosuid,nodev shared:15 - tmpfs tmpfs rw',
  '41 30 0:40 / /tmp/priv rw,relatime - tmpfs none rw',
  '42 30 0:41 / /tmp/slave rw,relatime master:15 - tmpfs none rw',
  '43 30 0:42 / /tmp/both rw,relatime shared:20 master:15 - tmpfs none rw',
  '44 30 253:0 /srv/data /tmp/with\\040space rw,relatime shared:1 - ext4 /dev/vda1 rw',
  '45 41 0:43 / /tmp/priv rw,relatime shared:30 - tmpfs stacked rw',
  '46 30 0:44 / /tmp/un rw unbindable - tmpfs none rw',
  'garbage line',
  '',
].join('\n');

const mounts = parseMountInfo(TEXT);
const at = (p: string) => mountContaining(p, mounts);

describe('parseMountInfo', () => {
  it('reads ids, mount point, optional fields, type and source', () => {
    expect(mounts).toHaveLength(9);
    expect(mounts[4]).toEqual({ id: 42, parentId: 30, mountPoint: '/tmp/slave', optional: ['master:15'], fsType: 'tmpfs', source: 'none' });
    expect(mounts[0]!.optional).toEqual(['shared:1']);
    expect(mounts[3]!.optional).toEqual([]);
  });

  it('undoes the octal escapes of mount points', () => {
    expect(mounts[6]!.mountPoint).toBe('/tmp/with space');
  });
});

describe('mountContaining', () => {
  it('picks the deepest mount point above the path', () => {
    expect(at('/tmp/slave/a/b')?.id).toBe(42);
    expect(at('/tmp/x')?.id).toBe(30);
    expect(at('/home/u')?.id).toBe(22);
    expect(at('/tmp/with space/f')?.id).toBe(44);
  });

  it('matches whole path components only', () => {
    expect(at('/tmp/slaveish')?.id).toBe(30);
    expect(at('/tmpfoo')?.id).toBe(22);
  });

  it('takes the top of mounts stacked on one point', () => {
    expect(at('/tmp/priv/f')?.id).toBe(45);
  });

  it('finds the mount point itself', () => {
    expect(at('/tmp/slave')?.id).toBe(42);
    expect(at('/')?.id).toBe(22);
  });
});

describe('propagationOf', () => {
  it('tells shared, slave and private apart', () => {
    expect(propagationOf(at('/tmp/x')!)).toBe('shared');
    expect(propagationOf(at('/tmp/slave')!)).toBe('slave');
    expect(propagationOf(mounts[3]!)).toBe('private');
    expect(propagationOf(at('/tmp/un')!)).toBe('private');
  });

  it('counts a shared slave as shared', () => {
    expect(propagationOf(at('/tmp/both')!)).toBe('shared');
  });
});

describe('propagationProblem', () => {
  it('lets Bidirectional use a shared mount only', () => {
    expect(propagationProblem('/tmp/x', 'rshared', mounts)).toBeUndefined();
    expect(propagationProblem('/tmp/both/d', 'rshared', mounts)).toBeUndefined();
    expect(propagationProblem('/tmp/slave/d', 'rshared', mounts)).toBe(
      'host path "/tmp/slave/d" is on mount "/tmp/slave", which is slave, not shared (Bidirectional propagation needs a shared mount)',
    );
    expect(propagationProblem('/tmp/un', 'rshared', mounts)).toMatch(/which is private, not shared/);
  });

  it('lets HostToContainer use a shared or slave mount', () => {
    expect(propagationProblem('/tmp/x', 'rslave', mounts)).toBeUndefined();
    expect(propagationProblem('/tmp/slave/d', 'rslave', mounts)).toBeUndefined();
    expect(propagationProblem('/tmp/un/d', 'rslave', mounts)).toBe(
      'host path "/tmp/un/d" is on mount "/tmp/un", which is private, not shared or slave (HostToContainer propagation needs one of them)',
    );
  });

  it('says so when no mount holds the path', () => {
    expect(propagationProblem('/x', 'rslave', [])).toMatch(/on no mount/);
  });
});
