// selinux_relabel on CRI mounts (CRI-O's rules) with a fake labeler: SELinux
// is off on this node (no /sys/fs/selinux), where relabelling is a visible
// no-op; with it on, the container's mount label is set on each host path.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { InvalidArgumentError } from '@crius/common';
import { checkRelabelPath, relabelMounts, relabelTarget, selinuxEnabled, type Labeler } from './selinux.js';

class FakeLabeler implements Labeler {
  calls: [string, string][] = [];
  constructor(readonly enabled: boolean) {}
  async relabel(p: string, label: string): Promise<void> {
    this.calls.push([p, label]);
  }
}

const MOUNT_LABEL = 'system_u:object_r:container_file_t:s0:c5,c6';

function logSink() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
  return { log, lines };
}

describe('selinux_relabel', () => {
  it('relabels each path with the private (Z) mount label when SELinux is on', async () => {
    const l = new FakeLabeler(true);
    const { log } = logSink();
    expect(await relabelMounts(l, { hostPaths: ['/data/a', '/data/b'], mountLabel: MOUNT_LABEL }, log)).toEqual(['/data/a', '/data/b']);
    expect(l.calls).toEqual([['/data/a', MOUNT_LABEL], ['/data/b', MOUNT_LABEL]]);
  });

  it('gives shared (z) content level s0', () => {
    expect(relabelTarget(MOUNT_LABEL, true)).toBe('system_u:object_r:container_file_t:s0');
    expect(relabelTarget(MOUNT_LABEL, false)).toBe(MOUNT_LABEL);
  });

  it('refuses system directories before relabelling anything', async () => {
    const l = new FakeLabeler(true);
    const { log } = logSink();
    await expect(relabelMounts(l, { hostPaths: ['/data/a', '/usr/'], mountLabel: MOUNT_LABEL }, log)).rejects.toThrow(new InvalidArgumentError('SELinux relabeling of /usr is not allowed'));
    expect(l.calls).toEqual([]);
    for (const p of ['/', '/etc', '/var/lib', '/home/me']) expect(() => checkRelabelPath(p, '/home/me')).toThrow(InvalidArgumentError);
    expect(() => checkRelabelPath('/var/lib/kubelet/pods/x/volumes/y')).not.toThrow();
  });

  it('skips super-privileged (spc_t) containers, as CRI-O', async () => {
    const l = new FakeLabeler(true);
    const { log } = logSink();
    expect(await relabelMounts(l, { hostPaths: ['/data'], mountLabel: MOUNT_LABEL, processLabel: 'system_u:system_r:spc_t:s0' }, log)).toEqual([]);
    expect(l.calls).toEqual([]);
  });

  it('is a logged no-op when SELinux is off (this node), whatever the path', async () => {
    const l = new FakeLabeler(false);
    const { log, lines } = logSink();
    expect(await relabelMounts(l, { hostPaths: ['/usr', '/data'] }, log)).toEqual([]);
    expect(l.calls).toEqual([]);
    expect(lines.join('')).toMatch(/SELinux is not enabled on this node, nothing relabelled/);
    expect(selinuxEnabled('/')).toBe(false);
  });
});
