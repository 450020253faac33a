import { SYNC_FLUSH_MARKER } from './headers.js';
import { describe, expect, it } from 'vitest';
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY, SPDY3_DICTIONARY_ID } from './dictionary.js';
import { FrameEncoder, FrameError, FrameParser, RstStatus, SettingsId, dataFrameHeader, type Frame } from './frames.js';
import { encodeHeaderBlock, headerValues, type SpdyHeaders } from './headers.js';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function parseAll(bytes: Buffer, parser = new FrameParser()): Frame[] {
  parser.push(bytes);
  const out: Frame[] = [];
  for (let f = parser.next(); f; f = parser.next()) out.push(f);
  return out;
}

/** A control frame around an already-compressed header block, as a peer's zlib would produce it. */
function rawSynStream(streamId: number, block: Buffer): Buffer {
  const hdr = Buffer.alloc(18);
  hdr.writeUInt32BE(0x80030001, 0);
  hdr.writeUInt32BE(10 + block.length, 4);
  hdr.writeUInt32BE(streamId, 8);
  return Buffer.concat([hdr, block]);
}

async function syncFlush(z: Deflate | Inflate, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const onData = (c: Buffer) => out.push(c);
  z.on('data', onData);
  z.write(input);
  await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  await new Promise((r) => setImmediate(r));
  z.off('data', onData);
  return Buffer.concat(out);
}

describe('SPDY/3 dictionary', () => {
  it('is the 1423 bytes whose Adler-32 peers put in the zlib header', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY3_DICTIONARY)).toBe(SPDY3_DICTIONARY_ID);
    expect(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\x07options');
    expect(SPDY3_DICTIONARY.subarray(-6).toString('latin1')).toBe('enq=0.');
  });
});

describe('frame encoding on the wire', () => {
  const enc = new FrameEncoder();

  it('encodes fixed-layout control frames byte for byte', () => {
    expect(enc.encode({ type: 'ping', id: 1 }).toString('hex')).toBe('8003000600000004' + '00000001');
    expect(enc.encode({ type: 'rst_stream', streamId: 5, status: RstStatus.CANCEL }).toString('hex')).toBe(
      '8003000300000008' + '00000005' + '00000005',
    );
    expect(enc.encode({ type: 'window_update', streamId: 3, delta: 65536 }).toString('hex')).toBe(
      '8003000900000008' + '00000003' + '00010000',
    );
    expect(enc.encode({ type: 'goaway', lastGoodStreamId: 7, status: 0 }).toString('hex')).toBe(
      '8003000700000008' + '00000007' + '00000000',
    );
    expect(
      enc.encode({ type: 'settings', clear: false, entries: [{ id: SettingsId.INITIAL_WINDOW_SIZE, value: 65536, flags: 0 }] }).toString('hex'),
    ).toBe('800300040000000c' + '00000001' + '00000007' + '00010000');
  });

  it('encodes DATA with the FIN flag in the high byte of the length word', () => {
    expect(dataFrameHeader(1, 3, true).toString('hex')).toBe('00000001' + '01000003');
    const frame = enc.encode({ type: 'data', streamId: 0x7fffffff, fin: false, data: Buffer.from('abc') });
    expect(frame.toString('hex')).toBe('7fffffff' + '00000003' + '616263');
  });

  it('starts the header zlib stream with FDICT and the SPDY/3 dictionary id', () => {
    const e = new FrameEncoder();
    const f = e.encode({ type: 'syn_reply', streamId: 1, fin: false, headers: {} });
    const block = f.subarray(12);
    expect(((block[0]! << 8) | block[1]!) % 31).toBe(0);
    expect(block[1]! & 0x20).toBe(0x20);
    expect(block.readUInt32BE(2)).toBe(SPDY3_DICTIONARY_ID);
    // The second block continues the same stream: no second zlib header.
    const g = e.encode({ type: 'syn_reply', streamId: 3, fin: false, headers: {} });
    expect(g.length).toBe(f.length - 6);
  });
});

describe('frame round trips', () => {
  const frames: Frame[] = [
    { type: 'data', streamId: 1, fin: true, data: Buffer.from('hello') },
    {
      type: 'syn_stream', streamId: 1, associatedToStreamId: 0, priority: 2, slot: 0, fin: false, unidirectional: false,
      headers: { streamtype: 'error' }, version: 3,
    },
    {
      type: 'syn_stream', streamId: 3, associatedToStreamId: 1, priority: 7, slot: 4, fin: true, unidirectional: true,
      headers: { streamtype: 'data', port: '8080', requestid: '0' }, version: 3,
    },
    { type: 'syn_reply', streamId: 1, fin: false, headers: {} },
    { type: 'syn_reply', streamId: 3, fin: true, headers: { status: '200', 'x-multi': 'a\0b' } },
    { type: 'headers', streamId: 5, fin: true, headers: { trailer: 'yes' } },
    { type: 'rst_stream', streamId: 9, status: RstStatus.FLOW_CONTROL_ERROR },
    { type: 'settings', clear: true, entries: [{ id: 4, value: 100, flags: 1 }, { id: 7, value: 1 << 20, flags: 0 }] },
    { type: 'ping', id: 2 },
    { type: 'goaway', lastGoodStreamId: 11, status: 2 },
    { type: 'window_update', streamId: 0, delta: 0x7fffffff },
    { type: 'unknown', frameType: 0x0a, flags: 0, payload: Buffer.from('cred') },
  ];

  it('decodes what it encodes, in order, for every frame type', () => {
    const enc = new FrameEncoder();
    const wire = Buffer.concat(frames.map((f) => enc.encode(f)));
    expect(parseAll(wire)).toEqual(frames);
  });

  it('reassembles frames fed one byte at a time', () => {
    const enc = new FrameEncoder();
    const wire = Buffer.concat(frames.map((f) => enc.encode(f)));
    const parser = new FrameParser();
    const got: Frame[] = [];
    for (let i = 0; i < wire.length; i++) {
      parser.push(wire.subarray(i, i + 1));
      for (let f = parser.next(); f; f = parser.next()) got.push(f);
    }
    expect(got).toEqual(frames);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('splits multi-valued headers on NUL', () => {
    expect(headerValues('a\0b')).toEqual(['a', 'b']);
    expect(headerValues(undefined)).toEqual([]);
  });
});

describe('header compression interop with zlib', () => {
  it('our level-0 header stream inflates with a plain zlib inflate context', async () => {
    const enc = new FrameEncoder();
    const inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    const sets: SpdyHeaders[] = [{ streamtype: 'stdout' }, {}, { port: '80', requestid: '12' }];
    for (const headers of sets) {
      const frame = enc.encode({ type: 'syn_reply', streamId: 1, fin: false, headers });
      const plain = await syncFlush(inflate, frame.subarray(12));
      expect(plain).toEqual(encodeHeaderBlock(headers));
    }
    inflate.close();
  });

  it('decodes blocks compressed by a real deflate context that refers across blocks', async () => {
    // Like a Go peer: one deflate stream per direction, BestCompression, sync flush per block.
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
    const sets: SpdyHeaders[] = [
      { streamtype: 'error', 'x-kubernetes-pf-requestid': 'abcdefgh' },
      { streamtype: 'stdout', 'x-kubernetes-pf-requestid': 'abcdefgh' },
      { streamtype: 'stderr', 'x-kubernetes-pf-requestid': 'abcdefgh', extra: 'v'.repeat(300) },
    ];
    const wire: Buffer[] = [];
    for (const [i, h] of sets.entries()) wire.push(rawSynStream(2 * i + 1, await syncFlush(deflate, encodeHeaderBlock(h))));
    deflate.close();
    // Later blocks are shorter than their plain text: they back-reference earlier blocks.
    expect(wire[1]!.length).toBeLessThan(18 + encodeHeaderBlock(sets[1]!).length);
    const got = parseAll(Buffer.concat(wire));
    expect(got.map((f) => (f.type === 'syn_stream' ? { ...f.headers } : f))).toEqual(sets);
  });

  it('refuses a header stream compressed against another dictionary', async () => {
    const deflate = createDeflate({ dictionary: Buffer.from('not the spdy dictionary') });
    const block = await syncFlush(deflate, encodeHeaderBlock({ a: 'b' }));
    deflate.close();
    expect(() => parseAll(rawSynStream(1, block))).toThrow(/dictionary/);
  });

  it('refuses a header block that inflates past the limit (zlib bomb)', async () => {
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
    const block = await syncFlush(deflate, encodeHeaderBlock({ big: 'x'.repeat(2 * 1024 * 1024) }));
    deflate.close();
    expect(block.length).toBeLessThan(16 * 1024);
    expect(() => parseAll(rawSynStream(1, block))).toThrow(FrameError);
  });
});

describe('malformed input', () => {
  it('rejects a frame longer than the payload limit before buffering it', () => {
    const parser = new FrameParser(1024);
    parser.push(dataFrameHeader(1, 4096, false));
    expect(() => parser.next()).toThrow(/exceeds the 1024-byte limit/);
  });

  it('rejects fixed-size control frames of the wrong length', () => {
    const bad = Buffer.from('80030003000000040000000100', 'hex').subarray(0, 12);
    expect(() => parseAll(bad)).toThrow(/RST_STREAM payload is 4 bytes/);
  });

  it('rejects a header block whose pair count cannot fit', () => {
    const enc = new FrameEncoder();
    const good = enc.encode({ type: 'syn_reply', streamId: 1, fin: false, headers: {} });
    // Rewrite the single stored block's content (before the sync-flush marker): count = 1000 pairs in 4 bytes.
    const tampered = Buffer.from(good);
    tampered.writeUInt32BE(1000, tampered.length - SYNC_FLUSH_MARKER.length - 4);
    expect(() => parseAll(tampered)).toThrow(/claims 1000 pairs/);
  });

  it('waits for the rest of a partial frame', () => {
    const parser = new FrameParser();
    const ping = new FrameEncoder().encode({ type: 'ping', id: 7 });
    parser.push(ping.subarray(0, 10));
    expect(parser.next()).toBeUndefined();
    parser.push(ping.subarray(10));
    expect(parser.next()).toEqual({ type: 'ping', id: 7 });
  });
});
