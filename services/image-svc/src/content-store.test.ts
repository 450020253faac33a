import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, UnavailableError } from '@crius/common';
import { ContentStore, type BlobSource } from './content-store.js';
import { digestHex, sha256Digest } from './digest.js';

let root: string;
let store: ContentStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'crius-cs-'));
  store = new ContentStore(root);
  await store.init();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const data = Buffer.from('hello content store, '.repeat(1000));
const desc = { digest: sha256Digest(data), size: data.length };

/** A source that serves `bytes` from the asked offset, optionally breaking after `breakAt` bytes. */
function source(bytes: Buffer, opts: { breakAt?: number; honourRange?: boolean; log?: number[] } = {}): BlobSource {
  return async (offset) => {
    opts.log?.push(offset);
    const start = opts.honourRange === false ? 0 : offset;
    async function* body() {
      const end = opts.breakAt ?? bytes.length;
      for (let i = start; i < end; i += 1000) yield bytes.subarray(i, Math.min(i + 1000, end));
      if (opts.breakAt !== undefined) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    return { body: body(), offset: start };
  };
}

describe('ContentStore', () => {
  it('stores verified blobs at blobs/sha256/<hex> and reports them', async () => {
    await store.ingest(desc, source(data));
    expect(store.path(desc.digest)).toBe(join(root, 'blobs', 'sha256', digestHex(desc.digest)));
    expect(await readFile(store.path(desc.digest))).toEqual(data);
    expect(await store.has(desc.digest)).toBe(true);
    expect(await store.size(desc.digest)).toBe(data.length);
    expect(await store.list()).toEqual([desc.digest]);
    expect(await readdir(store.ingestDir)).toEqual([]);
    expect(await store.delete(desc.digest)).toBe(true);
    expect(await store.has(desc.digest)).toBe(false);
    expect(await store.delete(desc.digest)).toBe(false);
  });

  it('rejects wrong content naming both digests and keeps nothing', async () => {
    const wrong = Buffer.from(data);
    wrong[10] = 0;
    const err = await store.ingest(desc, source(wrong)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toBe(`digest mismatch: expected ${desc.digest}, got ${sha256Digest(wrong)}`);
    expect(await store.list()).toEqual([]);
    expect(await readdir(store.ingestDir)).toEqual([]);
  });

  it('rejects more bytes than the descriptor declares', async () => {
    await expect(store.ingest({ ...desc, size: 10 }, source(data))).rejects.toThrow(/more than the 10 bytes/);
    expect(await readdir(store.ingestDir)).toEqual([]);
  });

  it('keeps a broken download and resumes it from the partial offset', async () => {
    const log: number[] = [];
    const first = await store.ingest(desc, source(data, { breakAt: 7000, log })).catch((e: unknown) => e);
    expect((first as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(await store.partialSize(desc.digest)).toBe(7000);
    const progress: number[] = [];
    await store.ingest(desc, source(data, { log }), { onBytes: (n) => progress.push(n) });
    expect(log).toEqual([0, 7000]);
    expect(progress[0]).toBe(8000);
    expect(await readFile(store.path(desc.digest))).toEqual(data);
  });

  it('starts over when the source ignores the range', async () => {
    await store.ingest(desc, source(data, { breakAt: 5000 })).catch(() => undefined);
    await store.ingest(desc, source(data, { honourRange: false }));
    expect(await readFile(store.path(desc.digest))).toEqual(data);
  });

  it('treats a short clean end as transient', async () => {
    const short: BlobSource = async () => ({ body: (async function* () { yield data.subarray(0, 100); })(), offset: 0 });
    await expect(store.ingest(desc, short)).rejects.toBeInstanceOf(UnavailableError);
    expect(await store.partialSize(desc.digest)).toBe(100);
  });

  it('shares one download between concurrent callers of the same digest', async () => {
    let downloads = 0;
    const fetch = () => store.fetchOnce(desc.digest, async () => {
      downloads++;
      await new Promise((r) => setTimeout(r, 20));
      await store.ingest(desc, source(data));
    });
    await Promise.all(Array.from({ length: 8 }, fetch));
    await fetch();
    expect(downloads).toBe(1);
  });

  it('writes small blobs atomically after checking the digest', async () => {
    const doc = Buffer.from('{"a":1}');
    await store.writeBlob(sha256Digest(doc), doc);
    expect(await store.read(sha256Digest(doc))).toEqual(doc);
    await expect(store.writeBlob(desc.digest, doc)).rejects.toThrow(`expected ${desc.digest}, got ${sha256Digest(doc)}`);
    await expect(store.read(desc.digest)).rejects.toThrow(/not in content store/);
  });

  it('cleans temp files at init and prunes stale partials', async () => {
    await writeFile(join(store.ingestDir, 'x.tmp'), 'junk');
    await writeFile(join(store.ingestDir, digestHex(desc.digest)), 'partial');
    await store.init();
    expect(await readdir(store.ingestDir)).toEqual([digestHex(desc.digest)]);
    expect(await store.pruneIngest(1000, Date.now() + 5000)).toBe(1);
  });
});
