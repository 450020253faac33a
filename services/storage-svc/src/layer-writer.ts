// Applies tar entries to a fresh layer directory, as an overlay lower dir. Owner: storage-svc.
// Safety rests on two facts: the directory is new and only we write into it, and every parent
// is lstat-checked to be a real directory, so nothing is ever written through a symlink.
import { constants as C } from 'node:fs';
import { chmod, link, lchown, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { writeAll } from '@crius/common';
import {
  OPAQUE_XATTR, PathRuleError, classifyEntry, displayPath, normalizeEntryPath, symlinkEscapes, xattrAllowed,
  type EntryPath,
} from './entry-path.js';
import type { StorageOs } from './os.js';
import type { TarEntry, TarHeader } from './tar-reader.js';

export interface WriterOptions {
  /** Char/block device entries are created only when true (needs CAP_MKNOD). */
  allowDevices: boolean;
  os: Pick<StorageOs, 'mknod' | 'setXattr'>;
}

const OPAQUE_VALUE = Buffer.from('y');

export class LayerWriter {
  /** Relative paths known to be real directories (not symlinks) in this layer. */
  private readonly dirs = new Set<string>(['']);
  /** Whiteout devices this layer made, so a later same-named directory becomes opaque. */
  private readonly whiteouts = new Set<string>();
  /** Directory mtimes, applied last because creating children changes them. */
  private readonly dirTimes = new Map<string, number>();
  private rootSeen = false;
  /** Things skipped on purpose (aufs metadata, disallowed xattrs), for the caller's log. */
  readonly dropped: string[] = [];

  constructor(
    private readonly root: string,
    private readonly opts: WriterOptions,
  ) {}

  async apply(entry: TarEntry): Promise<void> {
    const kind = classifyEntry(normalizeEntryPath(entry.header.name));
    switch (kind.kind) {
      case 'aufs-meta':
        this.dropped.push(`${displayPath(kind.path)}: aufs metadata`);
        return;
      case 'opaque':
        if (await this.underFile(kind.dir, entry.header.name)) return;
        await this.ensureDirs(kind.dir);
        await this.opts.os.setXattr(this.abs(kind.dir), OPAQUE_XATTR, OPAQUE_VALUE);
        return;
      case 'whiteout':
        if (await this.underFile(kind.path.slice(0, -1), entry.header.name)) return;
        await this.ensureDirs(kind.path.slice(0, -1));
        await this.whiteout(kind.path);
        return;
      case 'normal':
        if (kind.path.length === 0) return this.applyRoot(entry.header);
        await this.ensureDirs(kind.path.slice(0, -1));
        return this.create(kind.path, entry);
    }
  }

  /** Gives the root its default mode if the layer had no `./` entry, then sets directory mtimes. */
  async finish(): Promise<void> {
    if (!this.rootSeen) await chmod(this.root, 0o755);
    const byDepth = [...this.dirTimes].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, mtime] of byDepth) await lutimes(join(this.root, rel), mtime, mtime);
  }

  private abs(p: EntryPath): string {
    return join(this.root, ...p);
  }

  private async applyRoot(h: TarHeader): Promise<void> {
    if (h.type !== 'dir') throw new PathRuleError(`the layer root must be a directory, not a ${h.type}`);
    this.rootSeen = true;
    await this.setOwnerMode(this.root, h);
    await this.setXattrs(this.root, [], h);
    this.dirTimes.set('', h.mtime);
  }

  /** Makes sure every component of `dir` is a real directory, creating missing ones (0755). */
  private async ensureDirs(dir: EntryPath): Promise<void> {
    for (let i = 1; i <= dir.length; i++) {
      const rel = dir.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const st = await lstatOrNull(join(this.root, rel));
      if (!st) await mkdir(join(this.root, rel), 0o755);
      else if (st.isSymbolicLink()) throw new PathRuleError(`parent "${rel}" is a symlink; refusing to write through it`);
      else if (!st.isDirectory()) throw new PathRuleError(`parent "${rel}" is not a directory`);
      this.dirs.add(rel);
    }
  }

  /**
   * True when a component of `dir` is a file (not a directory, not a symlink) this layer
   * made: a whiteout beneath it hides nothing the file does not already hide, so it is
   * skipped. umoci writes such layers when a directory was replaced by a file (the file,
   * then a whiteout per old child). Symlinks are still refused by ensureDirs.
   */
  private async underFile(dir: EntryPath, entryName: string): Promise<boolean> {
    for (let i = 1; i <= dir.length; i++) {
      const rel = dir.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const st = await lstatOrNull(join(this.root, rel));
      if (!st || st.isDirectory() || st.isSymbolicLink()) return false;
      this.dropped.push(`${entryName}: whiteout under the file "${rel}" (nothing to hide)`);
      return true;
    }
    return false;
  }

  private async whiteout(p: EntryPath): Promise<void> {
    const target = this.abs(p);
    // Whiteouts hide lower layers only; a same-layer file of that name stays (OCI layer.md).
    if (await lstatOrNull(target)) return;
    await this.opts.os.mknod(target, 'c', 0, 0);
    this.whiteouts.add(p.join('/'));
  }

  private async create(p: EntryPath, entry: TarEntry): Promise<void> {
    const h = entry.header;
    const target = this.abs(p);
    const rel = p.join('/');
    const existing = await lstatOrNull(target);
    const overWhiteout = this.whiteouts.has(rel);
    // OCI: dir over dir keeps contents and takes the new attributes; anything else is replaced.
    if (existing && !(existing.isDirectory() && h.type === 'dir')) {
      await rm(target, { recursive: true, force: true });
      this.forget(rel);
    }
    switch (h.type) {
      case 'dir':
        if (!existing || !existing.isDirectory()) await mkdir(target, 0o700);
        this.dirs.add(rel);
        this.dirTimes.set(rel, h.mtime);
        await this.setOwnerMode(target, h);
        await this.setXattrs(target, p, h);
        // Deleted then recreated in one layer: lower contents must stay hidden.
        if (overWhiteout) await this.opts.os.setXattr(target, OPAQUE_XATTR, OPAQUE_VALUE);
        return;
      case 'file':
        return this.writeFile(target, p, entry);
      case 'symlink':
        if (h.linkname === '') throw new PathRuleError('symlink with an empty target');
        if (symlinkEscapes(p, h.linkname)) throw new PathRuleError(`symlink target "${h.linkname}" escapes the layer root`);
        await symlink(h.linkname, target);
        await lchown(target, h.uid, h.gid);
        await this.setXattrs(target, p, h, true);
        await lutimes(target, h.mtime, h.mtime);
        return;
      case 'hardlink':
        return this.hardlink(target, p, h.linkname);
      case 'char':
      case 'block':
      case 'fifo':
        return this.node(target, p, h);
    }
  }

  private async writeFile(target: string, p: EntryPath, entry: TarEntry): Promise<void> {
    const h = entry.header;
    const fh = await open(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      await writeAll(fh, entry.body());
      // chown before chmod: chown clears setuid/setgid bits (and file capabilities).
      await fh.chown(h.uid, h.gid);
      await fh.chmod(h.mode);
    } finally {
      await fh.close();
    }
    await this.setXattrs(target, p, h);
    await lutimes(target, h.mtime, h.mtime);
  }

  private async hardlink(target: string, p: EntryPath, linkname: string): Promise<void> {
    let src: EntryPath;
    try {
      src = normalizeEntryPath(linkname);
    } catch (e) {
      throw new PathRuleError(`hardlink target "${linkname}": ${(e as Error).message}`);
    }
    if (src.length === 0 || src.join('/') === p.join('/')) throw new PathRuleError(`hardlink to "${linkname}" is not a file`);
    // The source must already exist in this layer, reached through real directories only.
    for (let i = 1; i < src.length; i++) {
      const rel = src.slice(0, i).join('/');
      const st = this.dirs.has(rel) ? undefined : await lstatOrNull(join(this.root, rel));
      if (st && !st.isDirectory()) throw new PathRuleError(`hardlink target "${linkname}" goes through non-directory "${rel}"`);
    }
    const st = await lstatOrNull(this.abs(src));
    if (!st) throw new PathRuleError(`hardlink target "${linkname}" is not in this layer`);
    if (st.isDirectory()) throw new PathRuleError(`hardlink target "${linkname}" is a directory`);
    await link(this.abs(src), target); // link(2) does not follow a symlink source
  }

  private async node(target: string, p: EntryPath, h: TarHeader): Promise<void> {
    if (h.type !== 'fifo' && !this.opts.allowDevices) {
      throw new PathRuleError(`${h.type} device ${h.devMajor}:${h.devMinor} refused (device nodes need root and allowDevices)`);
    }
    const t = h.type === 'fifo' ? 'p' : h.type === 'char' ? 'c' : 'b';
    await this.opts.os.mknod(target, t, h.devMajor, h.devMinor);
    await this.setOwnerMode(target, h);
    await this.setXattrs(target, p, h);
    await lutimes(target, h.mtime, h.mtime);
  }

  /** Owner, then mode (incl. setuid/setgid/sticky). Only called on paths lstat-checked or just made. */
  private async setOwnerMode(target: string, h: TarHeader): Promise<void> {
    await lchown(target, h.uid, h.gid);
    await chmod(target, h.mode);
  }

  private async setXattrs(target: string, p: EntryPath, h: TarHeader, symlink = false): Promise<void> {
    for (const [name, value] of h.xattrs) {
      // Linux refuses user.* xattrs on symlinks; dropping beats failing the whole layer.
      if (!xattrAllowed(name) || (symlink && name.startsWith('user.'))) {
        this.dropped.push(`${displayPath(p)}: xattr ${name}`);
        continue;
      }
      await this.opts.os.setXattr(target, name, value);
    }
  }

  /** Drops what we knew about `rel` and below after it was removed. */
  private forget(rel: string): void {
    const under = (k: string) => k === rel || k.startsWith(`${rel}/`);
    for (const k of [...this.dirs]) if (under(k)) this.dirs.delete(k);
    for (const k of [...this.dirTimes.keys()]) if (under(k)) this.dirTimes.delete(k);
    for (const k of [...this.whiteouts]) if (under(k)) this.whiteouts.delete(k);
  }
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}

