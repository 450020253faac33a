import { describe, expect, it } from 'vitest';
import { containerCgroupDirs } from './exec-cgroup.js';

// /proc/<pid>/cgroup as cgroups(7) documents it: "<id>:<controllers>:<path>".
const HYBRID = `12:cpu,cpuacct:/pods/ctr
11:memory:/pods/ctr
10:name=systemd:/pods/ctr
4:freezer:/pods/ctr
0::/pods/ctr
`;

describe('containerCgroupDirs', () => {
  it('maps each v1 hierarchy directory to the line of its controllers or name, and "unified" to the v2 line', () => {
    const roots = ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/freezer', '/sys/fs/cgroup/unified'];
    expect(containerCgroupDirs(HYBRID, roots, false)).toEqual([
      '/sys/fs/cgroup/cpu,cpuacct/pods/ctr',
      '/sys/fs/cgroup/memory/pods/ctr',
      '/sys/fs/cgroup/systemd/pods/ctr',
      '/sys/fs/cgroup/freezer/pods/ctr',
      '/sys/fs/cgroup/unified/pods/ctr',
    ]);
  });

  it('skips a hierarchy the process has no line for', () => {
    expect(containerCgroupDirs(HYBRID, ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory'], false)).toEqual(['/sys/fs/cgroup/memory/pods/ctr']);
  });

  it('uses the single "0::" line on v2', () => {
    expect(containerCgroupDirs('0::/kubepods/pod1/ctr\n', ['/sys/fs/cgroup'], true)).toEqual(['/sys/fs/cgroup/kubepods/pod1/ctr']);
  });

  it('refuses paths that climb out of the hierarchy', () => {
    expect(containerCgroupDirs('0::/../../etc\n', ['/sys/fs/cgroup'], true)).toEqual([]);
    expect(containerCgroupDirs('4:freezer:relative\n', ['/sys/fs/cgroup/freezer'], false)).toEqual([]);
  });
});
