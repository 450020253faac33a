// Content-addressed blob store under `<root>/blobs/sha256/<hex>`: verified,
// atomic writes (temp + fsync + rename), resumable partial downloads under
// `<root>/ingest/`, and one shared download per digest in this process.
// Owner: image-svc. Assumes a single image-svc process writes this root.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, rename, rm, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InternalError, NotFoundError, UnavailableError, fsyncDir, BatchedFileWriter } from '@crius/common';
import { assertSha256Digest, digestHex, sha256Digest } from './digest.js';

export interface BlobDescriptor {
  digest: string;
  size: number;
}

/** Opens the blob's bytes from `offset`; `offset` in the answer is where the body really starts. */
export type BlobSource = (offset: number) => Promise<{ body: AsyncIterable<Uint8Array>; offset: number }>;

/** What a caller of ingest hears about a download in progress. */
export interface IngestHooks {
  /** Bytes of the blob in the partial file so far. */
  onBytes?: (done: number) => void;
  /**
   * The partial file at `path` is open and grows from here on, to the blob's size (or is
   * deleted if the download fails for good). Called once per attempt, before any byte of it.
   */
  onOpen?: (path: string) => void;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
    await this.removeTempFiles();
  }

  path(digest: string): string {
    return join(this.blobsDir, digestHex(assertSha256Digest(digest, 'content store')));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${digest} not in content store`, { cause: err });
      throw err;
    }
  }

  /** Removes a blob and any partial download of it; true when a blob was removed. */
  async delete(digest: string): Promise<boolean> {
    await rm(this.ingestPath(digest), { force: true });
    try {
      await unlink(this.path(digest));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.blobsDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Byte offset a resumed download of `digest` would start from. */
  async partialSize(digest: string): Promise<number> {
    return sizeOrZero(this.ingestPath(digest));
  }

  /** Stores small content already in memory (manifests, configs) after checking its digest. */
  async writeBlob(expected: string, data: Uint8Array): Promise<void> {
    assertSha256Digest(expected, 'content store write');
    const actual = sha256Digest(data);
    if (actual !== expected) throw digestMismatch(expected, actual);
    if (await this.has(expected)) return;
    const temp = join(this.ingestDir, `${digestHex(expected)}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(temp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.commit(temp, expected);
  }

  /**
   * Moves in a file (on this filesystem) whose sha256 the caller computed while
   * writing and syncing it — image import stages archives that way; the
   * rename is the atomic commit. A blob already present wins; the file stays.
   */
  async adopt(file: string, digest: string): Promise<void> {
    assertSha256Digest(digest, 'content store adopt');
    if (await this.has(digest)) return;
    await chmod(file, 0o644);
    await this.commit(file, digest);
  }

  /**
   * Runs `download` unless the blob is present; callers asking for a digest
   * already being fetched wait for that one download instead.
   */
  fetchOnce(digest: string, download: () => Promise<void>): Promise<void> {
    const running = this.inflight.get(digest);
    if (running) return running;
    const task = (async () => {
      if (await this.has(digest)) return;
      await download();
    })().finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, task);
    return task;
  }

  /**
   * One attempt at streaming a blob in: resumes a partial download, verifies
   * size and sha256 while writing, commits atomically. A broken stream keeps
   * the partial file for the next attempt; wrong content is thrown away.
   */
  async ingest(desc: BlobDescriptor, source: BlobSource, hooks: IngestHooks = {}): Promise<void> {
    assertSha256Digest(desc.digest, 'content store ingest');
    const partial = this.ingestPath(desc.digest);
    let have = await sizeOrZero(partial);
    if (have > desc.size) {
      await truncate(partial, 0);
      have = 0;
    }
    const { body, offset } = await source(have);
    if (offset !== have) {
      if (offset !== 0) throw new InternalError(`blob ${desc.digest}: source resumed at ${offset}, wanted ${have} or 0`);
      have = 0;
    }
    const hash = createHash('sha256');
    if (have > 0) await hashFile(partial, have, hash);
    const fh = await open(partial, have > 0 ? 'r+' : 'w', 0o644);
    let written = have;
    try {
      if (have > 0) await fh.truncate(have);
      hooks.onOpen?.(partial);
      const out = new BatchedFileWriter(fh, have);
      try {
        for await (const chunk of body) {
          written += chunk.byteLength;
          if (written > desc.size) throw await this.discard(desc, `more than the ${desc.size} bytes its descriptor declares`);
          hash.update(chunk);
          await out.write(chunk);
          hooks.onBytes?.(written);
        }
      } catch (err) {
        // Keep every byte that arrived, so a retry resumes after it.
        await out.flush().catch(() => undefined);
        throw err;
      }
      await out.flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (written < desc.size) {
      throw new UnavailableError(`blob ${desc.digest}: stream ended after ${written} of ${desc.size} bytes`);
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== desc.digest) {
      await rm(partial, { force: true });
      throw digestMismatch(desc.digest, actual);
    }
    await this.commit(partial, desc.digest);
  }

  /** Drops partial downloads untouched for `maxAgeMs` (left by crashed pulls). */
  async pruneIngest(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.ingestDir)) {
      const file = join(this.ingestDir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && now - info.mtimeMs > maxAgeMs) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  private ingestPath(digest: string): string {
    return join(this.ingestDir, digestHex(assertSha256Digest(digest, 'content store')));
  }

  private async discard(desc: BlobDescriptor, reason: string): Promise<Error> {
    await rm(this.ingestPath(desc.digest), { force: true });
    return new FailedPreconditionError(`blob ${desc.digest}: registry sent ${reason}`);
  }

  private async commit(temp: string, digest: string): Promise<void> {
    await rename(temp, this.path(digest));
    await fsyncDir(this.blobsDir);
  }

  private async removeTempFiles(): Promise<void> {
    for (const name of await readdir(this.ingestDir)) {
      if (name.endsWith('.tmp')) await rm(join(this.ingestDir, name), { force: true });
    }
  }
}

export function digestMismatch(expected: string, actual: string): FailedPreconditionError {
  return new FailedPreconditionError(`digest mismatch: expected ${expected}, got ${actual}`);
}

async function sizeOrZero(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function hashFile(file: string, length: number, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
}
