import { open, writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSingleGzipMember, gzipHeaderLength, openDecompressed } from './decompress.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-decompress-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function decode(blob: Buffer, skipGzipCrc: boolean): Promise<{ data: Buffer; done: unknown }> {
  const file = join(dir, 'blob');
  await writeFile(file, blob);
  const fh = await open(file, 'r');
  try {
    const dec = await openDecompressed(fh, 'test', { skipGzipCrc });
    const parts: Buffer[] = [];
    for await (const chunk of dec.stream) parts.push(chunk);
    const done = await dec.done.then(() => 'ok', (e: unknown) => e);
    return { data: Buffer.concat(parts), done };
  } finally {
    await fh.close();
  }
}

describe('gzip decoding', () => {
  const data = Buffer.from('layer bytes '.repeat(5000));

  it('decodes a single member without its CRC and confirms nothing follows it', async () => {
    const r = await decode(gzipSync(data), true);
    expect(r.data.equals(data)).toBe(true);
    expect(r.done).toBe('ok');
  });

  it('flags a second member (the caller decodes again in full), which the full decoder reads', async () => {
    const two = Buffer.concat([gzipSync(data), gzipSync(Buffer.from('more'))]);
    const raw = await decode(two, true);
    expect(raw.done).toBeInstanceOf(NotSingleGzipMember);
    const full = await decode(two, false);
    expect(full.data.equals(Buffer.concat([data, Buffer.from('more')]))).toBe(true);
    expect(full.done).toBe('ok');
  });

  it('measures gzip headers, leaving odd ones to the full decoder', () => {
    const plain = gzipSync(data);
    expect(gzipHeaderLength(plain)).toBe(10);
    const named = Buffer.concat([plain.subarray(0, 3), Buffer.from([0x08]), plain.subarray(4, 10), Buffer.from('x.tar\0')]);
    expect(gzipHeaderLength(named)).toBe(16);
    expect(gzipHeaderLength(Buffer.concat([named.subarray(0, 3), Buffer.from([0x08]), named.subarray(4, 12)]))).toBeUndefined(); // name not terminated
    expect(gzipHeaderLength(Buffer.concat([plain.subarray(0, 3), Buffer.from([0x20]), plain.subarray(4)]))).toBeUndefined(); // reserved flag
    expect(gzipHeaderLength(Buffer.from([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined(); // not deflate
  });
});
