// Header blocks as a streaming zlib reader sees them (kubectl, the kubelet
// and containerd read SPDY headers with Go's compress/flate): every block we
// send must be fully readable without any byte of the next frame.
import { createInflate, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HeaderCompressor, HeaderDecompressor, SYNC_FLUSH_MARKER } from './headers.js';
import { SPDY3_DICTIONARY } from './dictionary.js';

/** Feed one block to a long-lived inflate stream and collect what it yields right away. */
function streamingRead(inflate: ReturnType<typeof createInflate>, block: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (d: Buffer) => chunks.push(d);
    inflate.on('data', onData);
    inflate.once('error', reject);
    inflate.write(block, () => {
      inflate.flush(constants.Z_SYNC_FLUSH, () => {
        inflate.off('data', onData);
        resolve(Buffer.concat(chunks));
      });
    });
  });
}

describe('SPDY header compression', () => {
  it('ends every block with the sync-flush marker', () => {
    const c = new HeaderCompressor();
    for (const block of [Buffer.from('first'), Buffer.alloc(70_000, 1), Buffer.alloc(0)]) {
      const out = c.compress(block);
      expect(out.subarray(out.length - 5)).toEqual(SYNC_FLUSH_MARKER);
    }
  });

  it('hands over each block completely to a streaming reader, block after block', async () => {
    const c = new HeaderCompressor();
    const inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    const blocks = [Buffer.from('\x00\x00\x00\x01\x00\x00\x00\x04port\x00\x00\x00\x0280'), Buffer.from('second block'), Buffer.alloc(100_000, 7)];
    for (const b of blocks) expect(await streamingRead(inflate, c.compress(b))).toEqual(b);
    inflate.destroy();
  });

  it('round-trips through our own decompressor', () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    for (const b of [Buffer.from('a'), Buffer.from('bb'), Buffer.alloc(40_000, 3)]) expect(d.decompress(c.compress(b))).toEqual(b);
  });
});
