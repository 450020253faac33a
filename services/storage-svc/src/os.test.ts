import { describe, expect, it } from 'vitest';
import { parseMountInfo } from './os.js';

describe('parseMountInfo', () => {
  it('reads mount point, type, source and decodes octal escapes', () => {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '97 22 0:45 / /var/lib/crius/containers/a\\040b/merged rw,relatime - overlay overlay rw,lowerdir=l/x:l/y,upperdir=/u,workdir=/w',
      '',
    ].join('\n');
    const m = parseMountInfo(text);
    expect(m).toHaveLength(2);
    expect(m[0]).toMatchObject({ mountPoint: '/', fsType: 'ext4', source: '/dev/vda' });
    expect(m[1]).toMatchObject({ mountPoint: '/var/lib/crius/containers/a b/merged', fsType: 'overlay' });
    expect(m[1]!.superOptions).toContain('lowerdir=l/x:l/y');
  });
  it('handles several optional fields before the separator', () => {
    const m = parseMountInfo('30 22 0:5 / /dev rw shared:2 master:1 - devtmpfs udev rw\n');
    expect(m[0]).toMatchObject({ mountPoint: '/dev', fsType: 'devtmpfs', source: 'udev' });
  });
});
