import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchedFileWriter, writeAll } from './batched-writer.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-batched-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* chunks(data: Buffer, sizes: number[]) {
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(off, off + n);
    off += n;
  }
}

describe('BatchedFileWriter', () => {
  it('writes chunks of any size in order, across batch boundaries', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const file = join(dir, 'f');
    const fh = await open(file, 'w');
    await writeAll(fh, chunks(data, [1, 16384, 65536, 0, 777, 300000]));
    await fh.close();
    expect((await readFile(file)).equals(data)).toBe(true);
  });

  it('writes at an explicit position and keeps what lies before it', async () => {
    const file = join(dir, 'f');
    await writeFile(file, 'HEAD-');
    const fh = await open(file, 'r+');
    const w = new BatchedFileWriter(fh, 5, 8);
    for (const part of ['abc', 'defgh', 'ij', 'klmnopqrstu']) await w.write(Buffer.from(part));
    await w.flush();
    await fh.close();
    expect(await readFile(file, 'utf8')).toBe('HEAD-abcdefghijklmnopqrstu');
  });

  it('writes nothing until a batch fills or flush is called', async () => {
    const file = join(dir, 'f');
    const fh = await open(file, 'w');
    const w = new BatchedFileWriter(fh, null, 10);
    await w.write(Buffer.from('12345'));
    expect(await readFile(file, 'utf8')).toBe('');
    await w.write(Buffer.from('67890'));
    expect(await readFile(file, 'utf8')).toBe('1234567890');
    await w.write(Buffer.from('x'));
    await w.flush();
    await fh.close();
    expect(await readFile(file, 'utf8')).toBe('1234567890x');
  });
});
