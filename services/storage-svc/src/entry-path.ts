// Pure path rules for layer entries: normalisation, escape checks, OCI whiteout mapping. Owner: storage-svc.
// Decision (OCI image-spec layer.md: a layer is "a tar archive with relative paths" to the
// rootfs): absolute entry names are not valid changesets and are refused, not stripped as GNU
// tar does, so a hostile `/etc/passwd` entry fails loudly. `..` components are refused outright.

/** Entry name as components relative to the layer root; [] is the root itself. */
export type EntryPath = string[];

export class PathRuleError extends Error {}

/** Normalises a tar entry name (`./a//b/` → [a, b]); throws PathRuleError on hostile names. */
export function normalizeEntryPath(name: string): EntryPath {
  if (name === '') throw new PathRuleError('empty name');
  if (name.includes('\0')) throw new PathRuleError('name contains NUL');
  if (name.startsWith('/')) throw new PathRuleError('absolute path (layer entries must be relative)');
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new PathRuleError('path contains ".."');
    parts.push(c);
  }
  return parts;
}

/**
 * True if a relative symlink placed at `entry` with text `target` resolves (lexically,
 * with the layer root as `/`) above the root. Absolute targets are fine: they resolve
 * inside the container's rootfs when the container follows them.
 */
export function symlinkEscapes(entry: EntryPath, target: string): boolean {
  if (target.startsWith('/')) return false;
  const stack = entry.slice(0, -1);
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) return true;
      stack.pop();
    } else stack.push(c);
  }
  return false;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export type EntryKind =
  /** An ordinary entry to create at `path`. */
  | { kind: 'normal'; path: EntryPath }
  /** `.wh.<name>`: hide `<name>` of lower layers (overlay: 0/0 char device at `path`). */
  | { kind: 'whiteout'; path: EntryPath }
  /** `.wh..wh..opq`: hide all lower contents of directory `dir` (overlay: opaque xattr). */
  | { kind: 'opaque'; dir: EntryPath }
  /** Other `.wh..wh.*` names: aufs bookkeeping (e.g. `.wh..wh.plnk`), ignored. */
  | { kind: 'aufs-meta'; path: EntryPath };

/** Maps a normalised entry path onto what applying it means for an overlay lower dir. */
export function classifyEntry(path: EntryPath): EntryKind {
  const base = path[path.length - 1];
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return { kind: 'normal', path };
  const parent = path.slice(0, -1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir: parent };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'aufs-meta', path };
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  if (hidden === '') throw new PathRuleError('whiteout without a name');
  return { kind: 'whiteout', path: [...parent, hidden] };
}

/** Which xattrs a layer may set; others (trusted.* where overlay keeps its metadata) are dropped. */
export function xattrAllowed(name: string): boolean {
  return name.startsWith('user.') || name.startsWith('security.') || name.startsWith('system.posix_acl_');
}

export function displayPath(p: EntryPath): string {
  return p.length === 0 ? '.' : p.join('/');
}
