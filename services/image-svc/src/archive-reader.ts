// Streams an image archive (a tar, optionally gzip-compressed) from local disk
// into a private staging directory: each regular file is hashed while it is
// written, names are checked (no absolute paths, no `..`), and links are kept
// as name → name inside the archive, so nothing is ever resolved on the
// filesystem. Owner: image-svc (image import).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';

export interface StagedFile {
  /** Normalised name inside the archive. */
  name: string;
  /** Where its bytes are on disk. */
  file: string;
  size: number;
  digest: string;
}

const MAX_ENTRIES = 100_000;
const MAX_LINK_HOPS = 8;
const BLOB_NAME = /^blobs\/([^/]+)\/([^/]+)$/;

/** `a/./b/` → `a/b`; refuses absolute names, `..` and NUL. Empty for the archive root. */
export function normaliseEntryName(name: string, what: string): string {
  if (name.includes('\0')) throw new InvalidArgumentError(`${what}: entry name contains NUL`);
  if (name.startsWith('/')) throw new InvalidArgumentError(`${what}: entry "${name}" has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidArgumentError(`${what}: entry "${name}" leaves the archive (..)`);
  return parts.join('/');
}

export class StagedArchive {
  private constructor(
    /** The archive path, for messages. */
    readonly source: string,
    readonly dir: string,
    private readonly files: Map<string, StagedFile>,
    private readonly links: Map<string, string>,
  ) {}

  /**
   * Reads all of `source` into `dir` (created; the caller removes it with
   * remove()). Blobs under `blobs/<alg>/<hex>` must hash to their name.
   */
  static async stage(source: string, dir: string): Promise<StagedArchive> {
    const what = `import ${source}`;
    const gzip = await isGzipFile(source);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const files = new Map<string, StagedFile>();
    const links = new Map<string, string>();
    const seen = new Set<string>();
    const ex = extract();
    const input = createReadStream(source);
    input.on('error', (err) => ex.destroy(err));
    if (gzip) {
      const gunzip = createGunzip();
      gunzip.on('error', (err) => ex.destroy(new InvalidArgumentError(`${what}: gzip data is corrupt`, { cause: err })));
      input.pipe(gunzip).pipe(ex);
    } else {
      input.pipe(ex);
    }
    try {
      for await (const entry of ex) {
        const h = entry.header;
        const name = normaliseEntryName(h.name, what);
        if (seen.size >= MAX_ENTRIES) throw new InvalidArgumentError(`${what}: more than ${MAX_ENTRIES} entries`);
        if (name !== '' && seen.has(name) && h.type !== 'directory') throw new InvalidArgumentError(`${what}: entry "${name}" appears twice`);
        seen.add(name);
        if (h.type === 'file' || h.type === 'contiguous-file') {
          files.set(name, await stageFile(entry as AsyncIterable<Buffer>, name, join(dir, String(files.size)), what));
        } else if (h.type === 'symlink' || h.type === 'link') {
          links.set(name, linkTarget(name, h.linkname ?? '', h.type === 'symlink', what));
          entry.resume();
        } else if (h.type === 'directory') {
          entry.resume();
        } else {
          throw new InvalidArgumentError(`${what}: entry "${name}" is a ${h.type}; image archives hold only files, directories and links`);
        }
      }
    } catch (err) {
      input.destroy();
      await rm(dir, { recursive: true, force: true });
      if (err instanceof InvalidArgumentError || err instanceof FailedPreconditionError) throw err;
      throw new InvalidArgumentError(`${what}: not a readable tar archive: ${(err as Error).message}`, { cause: err });
    }
    return new StagedArchive(source, dir, files, links);
  }

  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** The file `name` refers to, following links inside the archive; `referencedBy` names who asked. */
  file(name: string, referencedBy: string): StagedFile {
    const found = this.lookup(normaliseEntryName(name, `import ${this.source}: ${referencedBy}`));
    if (!found) throw new InvalidArgumentError(`import ${this.source}: ${referencedBy} names "${name}", which is not in the archive`);
    return found;
  }

  /** The blob `blobs/sha256/<hex>` for `digest`, checked to hash to it even when reached through a link. */
  blob(digest: string, size: number | undefined, referencedBy: string): StagedFile {
    const name = `blobs/sha256/${digest.slice('sha256:'.length)}`;
    const found = this.file(name, `${referencedBy} (blob ${digest})`);
    if (found.digest !== digest) {
      throw new FailedPreconditionError(`import ${this.source}: entry "${name}" (via "${found.name}"): digest mismatch: expected ${digest}, got ${found.digest}`);
    }
    if (size !== undefined && found.size !== size) {
      throw new FailedPreconditionError(`import ${this.source}: entry "${name}" is ${found.size} bytes but ${referencedBy} declares ${size}`);
    }
    return found;
  }

  /** Reads a small document whole, refusing more than `limit` bytes. */
  async read(file: StagedFile, limit: number): Promise<Buffer> {
    if (file.size > limit) {
      throw new InvalidArgumentError(`import ${this.source}: entry "${file.name}" is ${file.size} bytes, above the limit of ${limit}`);
    }
    return readFile(file.file);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private lookup(name: string): StagedFile | undefined {
    let current = name;
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const file = this.files.get(current);
      if (file) return file;
      const next = this.links.get(current);
      if (next === undefined) return undefined;
      current = next;
    }
    throw new InvalidArgumentError(`import ${this.source}: entry "${name}": more than ${MAX_LINK_HOPS} links in a row`);
  }
}

/** True when the file starts with the gzip magic bytes. */
export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** A link's target as an archive name: symlinks are relative to their directory, hard links to the root. */
function linkTarget(name: string, linkname: string, symbolic: boolean, what: string): string {
  if (linkname.startsWith('/')) throw new InvalidArgumentError(`${what}: link "${name}" points outside the archive (${linkname})`);
  const joined = symbolic ? posix.join(posix.dirname(name), linkname) : linkname;
  const target = posix.normalize(joined);
  if (target === '..' || target.startsWith('../')) {
    throw new InvalidArgumentError(`${what}: link "${name}" points outside the archive (${linkname})`);
  }
  return normaliseEntryName(target, what);
}

/** Writes one entry to `file`, hashing it; a `blobs/<alg>/<hex>` entry must hash to its name. */
async function stageFile(entry: AsyncIterable<Buffer>, name: string, file: string, what: string): Promise<StagedFile> {
  const blobName = BLOB_NAME.exec(name);
  if (blobName && blobName[1] !== 'sha256') {
    throw new InvalidArgumentError(`${what}: entry "${name}": unsupported digest algorithm ${blobName[1]} (only sha256)`);
  }
  if (blobName && !/^[a-f0-9]{64}$/.test(blobName[2]!)) throw new InvalidArgumentError(`${what}: entry "${name}": not a sha256 digest`);
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(file, 'wx', 0o600);
  try {
    for await (const chunk of entry) {
      hash.update(chunk);
      await fh.write(chunk, 0, chunk.length, size);
      size += chunk.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (blobName && digest !== `sha256:${blobName[2]}`) {
    throw new FailedPreconditionError(`${what}: entry "${name}": digest mismatch: content is ${digest}`);
  }
  return { name, file, size, digest };
}
