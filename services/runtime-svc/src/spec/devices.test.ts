import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { buildDevices, type DeviceStat } from './devices.js';

const stats: Record<string, DeviceStat> = {
  '/dev/fuse': { type: 'c', major: 10, minor: 229, fileMode: 0o20666, uid: 0, gid: 0 },
  '/dev/sda': { type: 'b', major: 8, minor: 0, fileMode: 0o60660, uid: 0, gid: 6 },
};
const statDevice = (p: string) => {
  const s = stats[p];
  if (!s) throw new Error(`ENOENT ${p}`);
  return s;
};
const dev = (hostPath: string, containerPath = hostPath, permissions = 'rwm') => ({ hostPath, containerPath, permissions });

describe('buildDevices', () => {
  it('creates requested devices and allows only them', () => {
    const r = buildDevices({ devices: [dev('/dev/fuse'), dev('/dev/sda', '/dev/xvda', 'r')], privileged: false, statDevice });
    expect(r.devices).toEqual([
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/xvda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
    ]);
    expect(r.rules).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
      { allow: true, type: 'b', major: 8, minor: 0, access: 'r' },
    ]);
  });

  it('denies everything (but runc\'s defaults) when no device is requested', () => {
    expect(buildDevices({ devices: [], privileged: false })).toEqual({ devices: [], rules: [{ allow: false, access: 'rwm' }] });
  });

  it('defaults empty permissions to rwm and rejects bad ones', () => {
    expect(buildDevices({ devices: [dev('/dev/fuse', '/dev/fuse', '')], privileged: false, statDevice }).rules[1]!.access).toBe('rwm');
    expect(() => buildDevices({ devices: [dev('/dev/fuse', '/dev/fuse', 'rx')], privileged: false, statDevice })).toThrow(/"rx"/);
  });

  it('names a host path that is not a device', () => {
    expect(() => buildDevices({ devices: [dev('/dev/nope')], privileged: false, statDevice })).toThrow(InvalidArgumentError);
    expect(() => buildDevices({ devices: [dev('/dev/nope')], privileged: false, statDevice })).toThrow(/\/dev\/nope/);
  });

  it('rejects relative paths', () => {
    expect(() => buildDevices({ devices: [dev('/dev/fuse', 'fuse')], privileged: false, statDevice })).toThrow(/"fuse"/);
  });

  it('gives privileged containers every host device and an allow-all rule', () => {
    const hostDevices = [
      { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229 },
      { path: '/dev/kmsg', type: 'c' as const, major: 1, minor: 11 },
    ];
    const r = buildDevices({ devices: [dev('/dev/sda', '/dev/disk0')], privileged: true, hostDevices, statDevice });
    expect(r.devices.map((d) => d.path)).toEqual(['/dev/fuse', '/dev/kmsg', '/dev/disk0']);
    expect(r.rules).toEqual([{ allow: true, access: 'rwm' }]);
  });
});
