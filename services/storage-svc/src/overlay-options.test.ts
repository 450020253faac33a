import { describe, expect, it } from 'vitest';
import { MOUNT_DATA_LIMIT, overlayOptions } from './overlay-options.js';

const short = (i: number) => i.toString(16).padStart(26, '0');

describe('overlayOptions', () => {
  it('puts the top layer first in lowerdir and adds upper/work', () => {
    const o = overlayOptions({ lowers: ['base', 'mid', 'top'], upper: '/r/c/x/upper', work: '/r/c/x/work', emptyLower: '_empty' }, 't');
    expect(o).toBe('lowerdir=top:mid:base,upperdir=/r/c/x/upper,workdir=/r/c/x/work');
  });
  it('mounts read-only without an upper, padding a single layer with the empty lower', () => {
    expect(overlayOptions({ lowers: ['only'], emptyLower: '_empty' }, 't')).toBe('ro,lowerdir=only:_empty');
    expect(overlayOptions({ lowers: ['a', 'b'], emptyLower: '_empty' }, 't')).toBe('ro,lowerdir=b:a');
  });
  it('fits 60 short-named layers far below the page-size limit', () => {
    const o = overlayOptions({ lowers: Array.from({ length: 60 }, (_, i) => short(i)), upper: `/var/lib/crius/storage/containers/${'c'.repeat(64)}/upper`, work: `/var/lib/crius/storage/containers/${'c'.repeat(64)}/work`, emptyLower: '_empty' }, 't');
    expect(o.length).toBeLessThan(2000);
  });
  it('refuses options over the limit with a clear error instead of a failing mount', () => {
    const lowers = Array.from({ length: 160 }, (_, i) => short(i));
    expect(() => overlayOptions({ lowers, emptyLower: '_empty' }, 'rootfs big')).toThrow(/rootfs big: overlay mount options for 160 layers are \d+ bytes, over the 4095-byte limit/);
    expect(MOUNT_DATA_LIMIT).toBe(4095);
  });
  it('refuses no layers and paths that would break the option syntax', () => {
    expect(() => overlayOptions({ lowers: [], emptyLower: '_empty' }, 't')).toThrow(/at least one layer/);
    expect(() => overlayOptions({ lowers: ['a,upperdir=/x'], emptyLower: '_empty' }, 't')).toThrow(/cannot go into overlay options/);
    expect(() => overlayOptions({ lowers: ['a'], upper: '/x:y', work: '/w', emptyLower: '_empty' }, 't')).toThrow(/cannot go into/);
  });
});
