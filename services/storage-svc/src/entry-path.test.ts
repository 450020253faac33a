import { describe, expect, it } from 'vitest';
import { PathRuleError, classifyEntry, normalizeEntryPath, symlinkEscapes, xattrAllowed } from './entry-path.js';

describe('normalizeEntryPath', () => {
  it('strips ./, empty and . components', () => {
    expect(normalizeEntryPath('./usr//bin/./ls')).toEqual(['usr', 'bin', 'ls']);
    expect(normalizeEntryPath('etc/')).toEqual(['etc']);
    expect(normalizeEntryPath('./')).toEqual([]);
    expect(normalizeEntryPath('.')).toEqual([]);
  });
  it('refuses .. anywhere, absolute names, NUL and empty names', () => {
    for (const bad of ['../evil', 'a/../../b', 'a/..', '..', '/etc/passwd', '/', 'a\0b', '']) {
      expect(() => normalizeEntryPath(bad), bad).toThrow(PathRuleError);
    }
  });
  it('keeps names that only look like dots', () => {
    expect(normalizeEntryPath('a/...b/..c')).toEqual(['a', '...b', '..c']);
  });
});

describe('symlinkEscapes', () => {
  it('allows absolute targets (they resolve inside the container rootfs)', () => {
    expect(symlinkEscapes(['a'], '/')).toBe(false);
    expect(symlinkEscapes(['usr', 'bin', 'sh'], '/bin/busybox')).toBe(false);
  });
  it('allows relative targets that stay inside', () => {
    expect(symlinkEscapes(['usr', 'lib', 'x'], '../../lib/x')).toBe(false);
    expect(symlinkEscapes(['a'], 'b/../c')).toBe(false);
  });
  it('refuses .. chains that climb above the layer root', () => {
    expect(symlinkEscapes(['a'], '..')).toBe(true);
    expect(symlinkEscapes(['usr', 'lib', 'x'], '../../../etc/shadow')).toBe(true);
    expect(symlinkEscapes(['a', 'b'], 'c/../../../x')).toBe(true);
  });
});

describe('classifyEntry (OCI whiteouts → overlay)', () => {
  it('maps .wh.<name> to a whiteout of <name> in the same dir', () => {
    expect(classifyEntry(['etc', '.wh.passwd'])).toEqual({ kind: 'whiteout', path: ['etc', 'passwd'] });
    expect(classifyEntry(['.wh.tmp'])).toEqual({ kind: 'whiteout', path: ['tmp'] });
  });
  it('maps .wh..wh..opq to an opaque parent dir', () => {
    expect(classifyEntry(['a', 'b', '.wh..wh..opq'])).toEqual({ kind: 'opaque', dir: ['a', 'b'] });
    expect(classifyEntry(['.wh..wh..opq'])).toEqual({ kind: 'opaque', dir: [] });
  });
  it('treats other .wh..wh. names as aufs metadata', () => {
    expect(classifyEntry(['.wh..wh.plnk', 'x'])).toEqual({ kind: 'normal', path: ['.wh..wh.plnk', 'x'] });
    expect(classifyEntry(['.wh..wh.plnk'])).toEqual({ kind: 'aufs-meta', path: ['.wh..wh.plnk'] });
  });
  it('leaves ordinary names alone and refuses a nameless whiteout', () => {
    expect(classifyEntry(['a', 'wh.b'])).toEqual({ kind: 'normal', path: ['a', 'wh.b'] });
    expect(classifyEntry([])).toEqual({ kind: 'normal', path: [] });
    expect(() => classifyEntry(['.wh.'])).toThrow(PathRuleError);
  });
});

describe('xattrAllowed', () => {
  it('allows user, security and ACL xattrs, drops trusted (overlay metadata)', () => {
    expect(xattrAllowed('user.foo')).toBe(true);
    expect(xattrAllowed('security.capability')).toBe(true);
    expect(xattrAllowed('system.posix_acl_access')).toBe(true);
    expect(xattrAllowed('trusted.overlay.opaque')).toBe(false);
    expect(xattrAllowed('trusted.overlay.redirect')).toBe(false);
  });
});
