// A container's root filesystem changes for its checkpoint archive, and
// applying them to a fresh rootfs on restore. Owner: runtime-svc.
//
// The changes are the overlay's upper directory (storage-svc reports where it
// is): every entry there is added or modified, a whiteout (character device
// 0:0) is a deletion, an opaque directory hides everything below it in the
// image. rootfs-diff.tar holds the added and modified entries (names relative
// to /, as CRI-O writes them); deleted.files is a JSON list of deleted paths.
// An opaque directory is listed as deleted and its new contents are in the
// tar: a restore here deletes first, then unpacks.
//
// Applying never follows a symlink inside the container's rootfs: an entry
// whose parent is a symlink is refused, an existing file in the way is
// replaced, not written through.
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { extract, pack, type Header } from 'tar-stream';
import { InvalidArgumentError } from '@crius/common';
import { DELETED_FILES, ROOTFS_DIFF_TAR, entryName } from './archive.js';

const exec = promisify(execFile);

export interface DiffSummary {
  /** Entries in rootfs-diff.tar (0: none written). */
  changed: number;
  deleted: string[];
}

/** Paths of directories under `upper` marked opaque (getfattr escapes odd bytes as \ooo). */
export async function opaqueDirs(upper: string): Promise<Set<string>> {
  const { stdout } = await exec('getfattr', ['-R', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', upper], { maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  return parseGetfattr(stdout);
}

export function parseGetfattr(text: string): Set<string> {
  const out = new Set<string>();
  let file = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    else if (/^trusted\.overlay\.opaque="y"$/.test(line) && file) out.add(file);
  }
  return out;
}

/**
 * Write rootfs-diff.tar and deleted.files for the overlay upper dir `upper`
 * into `outDir`; paths in `skip` (mount points: the runtime makes them) are
 * left out. Nothing is written for an unchanged rootfs.
 */
export async function writeRootfsDiff(upper: string, outDir: string, skip: Set<string>): Promise<DiffSummary> {
  const opaque = await opaqueDirs(upper);
  const deleted: string[] = [];
  const p = pack();
  const tarFile = path.join(outDir, ROOTFS_DIFF_TAR);
  const written = pipeline(p, createWriteStream(tarFile, { mode: 0o600 }));
  const inodes = new Map<string, string>();
  let changed = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(upper, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(upper, r);
      const st = await lstat(abs);
      if (st.isCharacterDevice() && st.rdev === 0) {
        deleted.push(`/${r}`);
        continue;
      }
      if (!skip.has(`/${r}`)) {
        if (st.isDirectory() && opaque.has(abs)) deleted.push(`/${r}`);
        await addChange(p, abs, r, st, inodes);
        changed++;
      }
      if (st.isDirectory()) await walk(r);
    }
  };
  try {
    await walk('');
    p.finalize();
    await written;
  } catch (err) {
    p.destroy();
    await written.catch(() => undefined);
    await rm(tarFile, { force: true });
    throw err;
  }
  if (changed === 0) await rm(tarFile, { force: true });
  if (deleted.length) await writeFile(path.join(outDir, DELETED_FILES), JSON.stringify(deleted), { mode: 0o600 });
  return { changed, deleted };
}

type Stats = Awaited<ReturnType<typeof lstat>>;

async function addChange(p: ReturnType<typeof pack>, abs: string, rel: string, st: Stats, inodes: Map<string, string>): Promise<void> {
  const h: Partial<Header> & { name: string } = { name: rel, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtime: st.mtime };
  if (st.isDirectory()) return void p.entry({ ...h, name: `${rel}/`, type: 'directory' });
  if (st.isSymbolicLink()) return void p.entry({ ...h, type: 'symlink', linkname: await readlink(abs) });
  if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = Number(st.nlink) > 1 ? inodes.get(key) : undefined;
    if (first) return void p.entry({ ...h, type: 'link', linkname: first });
    if (Number(st.nlink) > 1) inodes.set(key, rel);
    return pipeline(createReadStream(abs), p.entry({ ...h, type: 'file', size: Number(st.size) }));
  }
  const rdev = Number(st.rdev);
  const dev = { devmajor: (rdev >> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
  if (st.isCharacterDevice()) return void p.entry({ ...h, ...dev, type: 'character-device' });
  if (st.isBlockDevice()) return void p.entry({ ...h, ...dev, type: 'block-device' });
  if (st.isFIFO()) return void p.entry({ ...h, type: 'fifo' });
  // Sockets do not survive a checkpoint as files; they are left out.
}

/** `/a/b` or `a/b` as a checked path inside the rootfs. */
function inside(rootfs: string, name: string, what: string): string {
  const rel = entryName(name.replace(/^\/+/, ''), what);
  if (!rel) throw new InvalidArgumentError(`${what}: entry "${name}" names the root itself`);
  return path.join(rootfs, rel);
}

/** Make the parents of `target` (inside `rootfs`) real directories; never follows a symlink. */
async function parentDirs(rootfs: string, target: string, what: string): Promise<void> {
  const rel = path.relative(rootfs, path.dirname(target));
  let cur = rootfs;
  for (const part of rel ? rel.split(path.sep) : []) {
    cur = path.join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (!st) await mkdir(cur, { mode: 0o755 });
    else if (!st.isDirectory()) throw new InvalidArgumentError(`${what}: /${path.relative(rootfs, cur)} is not a directory in the rootfs (a symlink is never followed)`);
  }
}

/** Apply deleted.files, then rootfs-diff.tar, from `dir` to the container's `rootfs`. */
export async function applyRootfsDiff(dir: string, rootfs: string, what: string): Promise<void> {
  const deleted = await readDeleted(path.join(dir, DELETED_FILES), what);
  for (const d of deleted) {
    const target = inside(rootfs, d, `${what}: deleted.files`);
    await parentDirs(rootfs, target, what);
    await rm(target, { recursive: true, force: true });
  }
  const tarFile = path.join(dir, ROOTFS_DIFF_TAR);
  if (!(await lstat(tarFile).catch(() => undefined))) return;
  const dwhat = `${what}: ${ROOTFS_DIFF_TAR}`;
  const ex = extract();
  const input = createReadStream(tarFile);
  input.on('error', (err) => ex.destroy(err));
  input.pipe(ex);
  const dirTimes: { target: string; mtime: Date }[] = [];
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const target = inside(rootfs, h.name, dwhat);
      await parentDirs(rootfs, target, dwhat);
      const existing = await lstat(target).catch(() => undefined);
      if (existing && !(existing.isDirectory() && h.type === 'directory')) await rm(target, { recursive: true, force: true });
      const mode = h.mode ?? 0o644;
      switch (h.type) {
        case 'directory':
          if (!existing?.isDirectory()) await mkdir(target, { mode });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file':
          await pipeline(entry, createWriteStream(target, { mode, flags: 'wx' }));
          break;
        case 'symlink':
          await symlink(h.linkname ?? '', target);
          entry.resume();
          break;
        case 'link': {
          const from = inside(rootfs, h.linkname ?? '', dwhat);
          const src = await lstat(from).catch(() => undefined);
          if (!src?.isFile()) throw new InvalidArgumentError(`${dwhat}: hard link ${h.name} points at ${h.linkname}, not a file in the rootfs`);
          await link(from, target);
          entry.resume();
          break;
        }
        case 'character-device':
        case 'block-device':
          await exec('mknod', ['-m', (mode & 0o7777).toString(8), target, h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
          entry.resume();
          break;
        case 'fifo':
          await exec('mkfifo', ['-m', (mode & 0o7777).toString(8), target]);
          entry.resume();
          break;
        default:
          throw new InvalidArgumentError(`${dwhat}: entry ${h.name} has unsupported type ${h.type}`);
      }
      await lchown(target, h.uid ?? 0, h.gid ?? 0);
      if (h.type !== 'symlink') await chmod(target, mode & 0o7777);
      const mtime = h.mtime ?? new Date();
      if (h.type === 'directory') dirTimes.push({ target, mtime });
      else if (h.type === 'symlink') await lutimes(target, mtime, mtime);
      else await utimes(target, mtime, mtime);
    }
  } catch (err) {
    input.destroy();
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`${dwhat} cannot be applied: ${(err as Error).message}`, { cause: err });
  }
  // Directory times last: creating entries inside bumped them.
  for (const d of dirTimes.reverse()) await utimes(d.target, d.mtime, d.mtime);
}

async function readDeleted(file: string, what: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: ${DELETED_FILES} is not JSON`, { cause: err });
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidArgumentError(`${what}: ${DELETED_FILES} is not a list of paths`);
  return v as string[];
}
