// The container checkpoint archive as CRI-O writes it and checkpointctl reads
// it: an uncompressed tar of a directory holding CRIU's images under
// `checkpoint/`, the OCI spec (`spec.dump`), the container's metadata
// (`config.dump`), its root filesystem changes (`rootfs-diff.tar`,
// `deleted.files`), CRIU's `dump.log` and `stats-dump`, bind mount types
// (`bind.mounts`) and the CRI log (`io.kubernetes.cri-o.LogPath`). Owner:
// runtime-svc. Writing packs a directory; reading unpacks only those names,
// refusing anything that could escape the destination (absolute names, `..`,
// links, devices), so a foreign archive can fail but never write elsewhere.
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';
import { InvalidArgumentError } from '@crius/common';

export const CHECKPOINT_DIR = 'checkpoint';
export const CONFIG_DUMP = 'config.dump';
export const SPEC_DUMP = 'spec.dump';
export const ROOTFS_DIFF_TAR = 'rootfs-diff.tar';
export const DELETED_FILES = 'deleted.files';
export const DUMP_LOG = 'dump.log';
export const STATS_DUMP = 'stats-dump';
export const BIND_MOUNTS = 'bind.mounts';
/** CRI-O stores the container's log under its annotation's name. */
export const CONTAINER_LOG = 'io.kubernetes.cri-o.LogPath';
/** Files that mark a pod checkpoint (checkpointctl's names). */
export const POD_DUMP = 'pod.dump';
export const POD_OPTIONS = 'pod.options';

/** The top-level names a container archive may hold; others are skipped when reading. */
const KNOWN_FILES = new Set([CONFIG_DUMP, SPEC_DUMP, ROOTFS_DIFF_TAR, DELETED_FILES, DUMP_LOG, STATS_DUMP, BIND_MOUNTS, CONTAINER_LOG, 'network.status', POD_DUMP, POD_OPTIONS]);
const MAX_ENTRIES = 100_000;

/**
 * Tar every regular file and directory under `dir` (names relative to it,
 * directories first) into `out`, atomically: a temp file beside it, fsynced,
 * renamed. Mode 0600: the images hold every memory page of the processes.
 */
export async function packDirectory(dir: string, out: string): Promise<void> {
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.tmp-${process.pid}-${Date.now()}`);
  const p = pack();
  const file = createWriteStream(tmp, { mode: 0o600 });
  const written = pipeline(p, file);
  try {
    for (const rel of await listTree(dir)) await addEntry(p, dir, rel);
    p.finalize();
    await written;
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, out);
  } catch (err) {
    p.destroy();
    await written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Relative paths under `dir`, parents before children, sorted for stable archives. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(path.join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await listTree(dir, rel)));
  }
  return out;
}

async function addEntry(p: ReturnType<typeof pack>, dir: string, rel: string): Promise<void> {
  const abs = path.join(dir, rel);
  const st = await lstat(abs);
  const base: Partial<Header> & { name: string } = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) return void p.entry({ ...base, name: `${rel}/`, type: 'directory' });
  if (st.isSymbolicLink()) return void p.entry({ ...base, type: 'symlink', linkname: await readlink(abs) });
  if (!st.isFile()) throw new Error(`checkpoint directory holds ${abs}, which is not a file or directory`);
  const entry = p.entry({ ...base, type: 'file', size: st.size });
  await pipeline(createReadStream(abs), entry);
}

/** `./a/./b/` → `a/b`; refuses absolute names, `..` and NUL. Empty for the root. */
export function entryName(name: string, what: string): string {
  if (name.includes('\0')) throw new InvalidArgumentError(`${what}: entry name contains NUL`);
  if (name.startsWith('/')) throw new InvalidArgumentError(`${what}: entry "${name}" has an absolute path`);
  const parts = name.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new InvalidArgumentError(`${what}: entry "${name}" leaves the archive (..)`);
  return parts.join('/');
}

/** Whether an entry name is one a container (or pod) archive may hold. */
export function wanted(name: string): boolean {
  if (KNOWN_FILES.has(name)) return true;
  const [top, ...rest] = name.split('/');
  return top === CHECKPOINT_DIR && rest.length <= 1;
}

/** gzip (Podman's export default) or zstd, from the first bytes. */
async function compression(file: string): Promise<'none' | 'gzip' | 'zstd'> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/**
 * Unpack the known names of a checkpoint archive into `dest` (created, mode
 * 0700). Regular files and directories only; the caller removes `dest`.
 * Whatever is wrong with the archive is INVALID_ARGUMENT naming it.
 */
export async function unpackArchive(archive: string, dest: string): Promise<void> {
  const what = `checkpoint archive ${archive}`;
  const kind = await compression(archive);
  if (kind === 'zstd') throw new InvalidArgumentError(`${what} is zstd-compressed; export it uncompressed or with gzip`);
  await mkdir(dest, { recursive: true, mode: 0o700 });
  const ex = extract();
  const input = createReadStream(archive);
  input.on('error', (err) => ex.destroy(err));
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    gunzip.on('error', (err) => ex.destroy(new InvalidArgumentError(`${what}: gzip data is corrupt`, { cause: err })));
    input.pipe(gunzip).pipe(ex);
  } else input.pipe(ex);
  let count = 0;
  try {
    for await (const entry of ex) {
      if (++count > MAX_ENTRIES) throw new InvalidArgumentError(`${what}: more than ${MAX_ENTRIES} entries`);
      const h = entry.header;
      const name = entryName(h.name, what);
      if (!name || !wanted(name)) {
        entry.resume();
        continue;
      }
      const target = path.join(dest, name);
      if (h.type === 'directory') {
        await mkdir(target, { recursive: true, mode: 0o700 });
        entry.resume();
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        await pipeline(entry, createWriteStream(target, { mode: 0o600, flags: 'wx' }));
      } else {
        throw new InvalidArgumentError(`${what}: entry "${name}" is a ${h.type}, only files and directories belong in a checkpoint`);
      }
    }
  } catch (err) {
    input.destroy();
    if (err instanceof InvalidArgumentError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && count === 0) throw err;
    if (code === 'EEXIST') throw new InvalidArgumentError(`${what}: an entry appears twice`, { cause: err });
    throw new InvalidArgumentError(`${what} is not a readable tar archive: ${(err as Error).message}`, { cause: err });
  }
  if (count === 0) throw new InvalidArgumentError(`${what} is empty or not a tar archive`);
}
