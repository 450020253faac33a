import { describe, expect, it } from 'vitest';
import { AuthorityFilter, H2FilterError, MAX_FRAME, PREFACE, fixAuthority, validAuthority } from './authority-filter.js';
import { HpackDecoder, type HeaderField } from './hpack.js';
import { huffmanEncode } from './huffman.js';

// Frames and header fields written by hand, as a client would put them on the wire.
const SETTINGS = frame(0x4, 0, 0, Buffer.alloc(0));
const PING = frame(0x6, 0, 0, Buffer.alloc(8, 7));

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

function int(value: number, prefix: number, flags: number): Buffer {
  const max = (1 << prefix) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) | 128);
  out.push(value);
  return Buffer.from(out);
}

function str(s: string, huffman = false): Buffer {
  const bytes = huffman ? huffmanEncode(s) : Buffer.from(s, 'latin1');
  return Buffer.concat([int(bytes.length, 7, huffman ? 0x80 : 0), bytes]);
}

/** Literal with a literal name: 0x40 incremental indexing, 0x00 without, 0x10 never. */
const lit = (name: string, value: string, kind = 0x00, huffman = false) => Buffer.concat([Buffer.from([kind]), str(name), str(value, huffman)]);
const indexed = (i: number) => int(i, 7, 0x80);
const GRPC_REQUEST = Buffer.concat([indexed(3), indexed(6), lit(':path', '/runtime.v1.RuntimeService/Version')]); // POST, http, path
const TE = lit('te', 'trailers');
const headers = (stream: number, block: Buffer, flags = 0x4) => frame(0x1, flags, stream, block);
const data = (stream: number, payload: Buffer, flags = 0) => frame(0x0, flags, stream, payload);

/** Splits concatenated frames; checks their shape. */
function frames(bytes: Buffer): { type: number; flags: number; stream: number; payload: Buffer }[] {
  const out = [];
  let o = bytes.subarray(0, 24).equals(PREFACE) ? 24 : 0;
  while (o < bytes.length) {
    const len = bytes.readUIntBE(o, 3);
    out.push({ type: bytes[o + 3]!, flags: bytes[o + 4]!, stream: bytes.readUInt32BE(o + 5), payload: bytes.subarray(o + 9, o + 9 + len) });
    o += 9 + len;
  }
  expect(o).toBe(bytes.length);
  return out;
}

/**
 * What a server's HPACK decoder makes of the filtered bytes: the header list
 * of each block, in order (one decoder for the connection, like nghttp2's).
 */
function serverView(bytes: Buffer): { stream: number; fields: [string, string][] }[] {
  const d = new HpackDecoder();
  const blocks: { stream: number; fields: [string, string][] }[] = [];
  let pending: Buffer[] = [];
  for (const f of frames(bytes)) {
    if (f.type !== 0x1 && f.type !== 0x9) continue;
    let p = f.payload;
    if (f.type === 0x1 && f.flags & 0x8) p = p.subarray(1, p.length - p[0]!);
    if (f.type === 0x1 && f.flags & 0x20) p = p.subarray(5);
    pending.push(p);
    if (f.flags & 0x4) {
      blocks.push({ stream: f.stream, fields: d.decode(Buffer.concat(pending)).fields.map((x) => [x.name, x.value]) });
      pending = [];
    }
  }
  return blocks;
}

function run(input: Buffer[], filter = new AuthorityFilter()): Buffer {
  return Buffer.concat(input.flatMap((c) => filter.push(c)));
}

const authorityOf = (fields: [string, string][]) => fields.filter(([n]) => n === ':authority' || n === 'host');
const SOCK = '/run/crius/crius.sock';

describe('validAuthority', () => {
  it('takes host, host:port, IPv6 literals; refuses paths, spaces and empty values', () => {
    for (const ok of ['localhost', 'localhost:1', '[::1]:10010', '127.0.0.1', 'user@host', 'a%20b', "x!$&'()*+,;=~_-."]) expect(validAuthority(ok), ok).toBe(true);
    for (const bad of [SOCK, 'unix:///run/x.sock', 'a b', '', 'a"b', 'a\u00e9', 'a{b}', 'a\\b', 'a?b', 'a#b']) expect(validAuthority(bad), bad).toBe(false);
  });
});

describe('fixAuthority', () => {
  const f = (name: string, value: string): HeaderField => ({ name, value, rep: 'without' });
  it('replaces invalid :authority and host, adds one to a request with neither, not to trailers', () => {
    expect(fixAuthority([f(':authority', 'localhost')], true, 'localhost')).toBeUndefined();
    expect(fixAuthority([f(':authority', SOCK)], true, 'localhost')).toEqual([f(':authority', 'localhost')]);
    expect(fixAuthority([f(':method', 'POST'), f('host', '')], true, 'x')).toEqual([f(':method', 'POST'), f('host', 'x')]);
    expect(fixAuthority([f(':method', 'POST')], true, 'localhost')).toEqual([f(':authority', 'localhost'), f(':method', 'POST')]);
    expect(fixAuthority([f('grpc-status', '0')], false, 'localhost')).toBeUndefined();
  });
});

describe('AuthorityFilter', () => {
  it('passes a connection whose authorities are valid byte for byte, as slices of the input', () => {
    const input = Buffer.concat([
      PREFACE,
      SETTINGS,
      headers(1, Buffer.concat([GRPC_REQUEST, lit(':authority', 'localhost', 0x40), lit('x-a', '1', 0x40), TE])),
      data(1, Buffer.from([0, 0, 0, 0, 0]), 0x1),
      PING,
      headers(3, Buffer.concat([GRPC_REQUEST, indexed(63), indexed(62), TE]), 0x5),
      frame(0x8, 0, 0, Buffer.from([0, 0, 1, 0])),
    ]);
    const filter = new AuthorityFilter();
    const out = filter.push(input);
    expect(out).toHaveLength(1);
    expect(out[0]!.buffer).toBe(input.buffer);
    expect(Buffer.concat(out).equals(input)).toBe(true);
    expect(filter.reencoding).toBe(false);
  });

  it('replaces a literal socket path, raw or Huffman-coded, and keeps every other field', () => {
    for (const huffman of [false, true]) {
      const block = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK, 0x00, huffman), lit('content-type', 'application/grpc'), TE]);
      const view = serverView(run([PREFACE, SETTINGS, headers(1, block)]));
      expect(view).toEqual([
        {
          stream: 1,
          fields: [[':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version'], [':authority', 'localhost'], ['content-type', 'application/grpc'], ['te', 'trailers']],
        },
      ]);
    }
  });

  it('follows a socket path indexed in the dynamic table and referenced by later streams', () => {
    const first = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK, 0x40, true), lit('x-a', 'one', 0x40), TE]);
    // Dynamic index 62 is the newest entry (x-a), 63 the authority.
    const second = Buffer.concat([GRPC_REQUEST, indexed(63), indexed(62), TE]);
    const third = Buffer.concat([indexed(3), indexed(6), indexed(63), lit(':path', '/p'), indexed(62)]);
    const filter = new AuthorityFilter();
    const view = serverView(run([PREFACE, SETTINGS, headers(1, first), headers(3, second), headers(5, third)], filter));
    expect(view.map((b) => authorityOf(b.fields))).toEqual([[[':authority', 'localhost']], [[':authority', 'localhost']], [[':authority', 'localhost']]]);
    expect(view.map((b) => b.fields.find(([n]) => n === 'x-a')?.[1])).toEqual(['one', 'one', 'one']);
    expect(view[2]!.fields.find(([n]) => n === ':path')).toEqual([':path', '/p']);
    expect(filter.rewrittenBlocks).toBe(3);
  });

  it('keeps the server right when the first bad block comes after indexed good ones (mirror, then re-encoding)', () => {
    const good = Buffer.concat([GRPC_REQUEST, lit(':authority', 'localhost', 0x40), lit('x-a', 'kept', 0x40), TE]);
    // Stream 3 brings a bad authority (indexed: now 62), then uses x-a (pushed to 63).
    const bad = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK, 0x40), indexed(63), TE]);
    // Stream 5 refers to all three entries: 62 = the socket path, 63 = x-a, 64 = localhost.
    const later = Buffer.concat([GRPC_REQUEST, indexed(62), indexed(63), lit('x-b', 'x'), indexed(64)]);
    const filter = new AuthorityFilter();
    const out = run([PREFACE, SETTINGS, headers(1, good), headers(3, bad), headers(5, later)], filter);
    const view = serverView(out);
    expect(view[0]!.fields).toEqual([[':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version'], [':authority', 'localhost'], ['x-a', 'kept'], ['te', 'trailers']]);
    expect(view[1]!.fields).toEqual([[':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version'], [':authority', 'localhost'], ['x-a', 'kept'], ['te', 'trailers']]);
    expect(view[2]!.fields).toEqual([[':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version'], [':authority', 'localhost'], ['x-a', 'kept'], ['x-b', 'x'], [':authority', 'localhost']]);
    expect(filter.reencoding).toBe(true);
    expect(filter.rewrittenBlocks).toBe(2); // stream 1 went through untouched
  });

  it('re-encodes good blocks too once one was rewritten: they may refer to entries the server never got', () => {
    // Stream 1's bad authority is rewritten; its x-a entry reaches the server only as a plain literal.
    const bad = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK), lit('x-a', 'from-1', 0x40), TE]);
    // Stream 3 is valid by itself and refers to x-a (dynamic index 62).
    const good = Buffer.concat([GRPC_REQUEST, lit(':authority', 'localhost'), indexed(62), TE]);
    const filter = new AuthorityFilter();
    const view = serverView(run([PREFACE, headers(1, bad), headers(3, good)], filter));
    expect(view[1]!.fields).toEqual([[':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version'], [':authority', 'localhost'], ['x-a', 'from-1'], ['te', 'trailers']]);
    expect(filter.rewrittenBlocks).toBe(2);
  });

  it('replaces a bad host header, and gives a request without any authority one', () => {
    const hostOnly = serverView(run([PREFACE, headers(1, Buffer.concat([GRPC_REQUEST, lit('host', SOCK)]))]));
    expect(authorityOf(hostOnly[0]!.fields)).toEqual([['host', 'localhost']]);
    const none = serverView(run([PREFACE, headers(1, GRPC_REQUEST)]));
    expect(none[0]!.fields).toEqual([[':authority', 'localhost'], [':method', 'POST'], [':scheme', 'http'], [':path', '/runtime.v1.RuntimeService/Version']]);
    const empty = serverView(run([PREFACE, headers(1, Buffer.concat([GRPC_REQUEST, indexed(1)]))])); // static :authority, empty value
    expect(authorityOf(empty[0]!.fields)).toEqual([[':authority', 'localhost']]);
  });

  it('adds no authority to trailers', () => {
    const req = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK)]);
    const trailers = lit('x-trailer', 'v');
    const view = serverView(run([PREFACE, headers(1, req), data(1, Buffer.alloc(5)), headers(1, trailers, 0x5)]));
    expect(view[1]).toEqual({ stream: 1, fields: [['x-trailer', 'v']] });
  });

  it('reads a header block split over CONTINUATION frames, the authority in the last one', () => {
    const block = Buffer.concat([GRPC_REQUEST, lit('x-pad', 'p'.repeat(100)), lit(':authority', SOCK)]);
    const input = [PREFACE, frame(0x1, 0x1, 1, block.subarray(0, 10)), frame(0x9, 0, 1, block.subarray(10, 110)), frame(0x9, 0x4, 1, block.subarray(110))];
    const out = run(input);
    const fs = frames(out);
    expect(fs.map((f) => [f.type, f.flags])).toEqual([[0x1, 0x5]]); // END_STREAM kept, one frame now
    expect(authorityOf(serverView(out)[0]!.fields)).toEqual([[':authority', 'localhost']]);
  });

  it('splits a re-encoded block larger than 16384 octets into HEADERS and CONTINUATION frames', () => {
    const big = 'v'.repeat(40_000);
    const block = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK), lit('x-big', big, 0x00, true)]);
    const input = [PREFACE, frame(0x1, 0x1, 1, block.subarray(0, 16000)), frame(0x9, 0, 1, block.subarray(16000, 32000)), frame(0x9, 0x4, 1, block.subarray(32000))];
    const out = run(input);
    const fs = frames(out);
    expect(fs.map((f) => f.type)).toEqual([0x1, 0x9, 0x9]);
    expect(fs.map((f) => f.flags)).toEqual([0x1, 0, 0x4]);
    expect(fs.map((f) => f.stream)).toEqual([1, 1, 1]);
    expect(fs[0]!.payload.length).toBe(MAX_FRAME);
    expect(fs[1]!.payload.length).toBe(MAX_FRAME);
    const fields = serverView(out)[0]!.fields;
    expect(fields.find(([n]) => n === 'x-big')?.[1]).toBe(big);
    expect(authorityOf(fields)).toEqual([[':authority', 'localhost']]);
  });

  it('drops padding and keeps the priority of a rewritten HEADERS frame', () => {
    const block = Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK)]);
    const priority = Buffer.from([0x80, 0, 0, 0, 42]); // exclusive on stream 0, weight 43
    const padded = Buffer.concat([Buffer.from([7]), priority, block, Buffer.alloc(7)]);
    const out = run([PREFACE, frame(0x1, 0x8 | 0x20 | 0x4 | 0x1, 1, padded)]);
    const [f] = frames(out);
    expect(f!.flags).toBe(0x20 | 0x4 | 0x1);
    expect(f!.payload.subarray(0, 5).equals(priority)).toBe(true);
    expect(authorityOf(serverView(out)[0]!.fields)).toEqual([[':authority', 'localhost']]);
  });

  it('passes padded and prioritised HEADERS frames with a good authority unchanged', () => {
    const block = Buffer.concat([GRPC_REQUEST, lit(':authority', 'localhost')]);
    const input = Buffer.concat([PREFACE, frame(0x1, 0x8 | 0x20 | 0x4, 1, Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 15]), block, Buffer.alloc(3)]))]);
    expect(run([input]).equals(input)).toBe(true);
  });

  it('gives the same bytes however the input is cut into chunks', () => {
    const conn = Buffer.concat([
      PREFACE,
      SETTINGS,
      headers(1, Buffer.concat([GRPC_REQUEST, lit(':authority', 'ok', 0x40), TE])),
      data(1, Buffer.alloc(300, 1), 0x1),
      frame(0x1, 0x0, 3, Buffer.concat([GRPC_REQUEST, lit(':authority', SOCK, 0x40, true)])),
      frame(0x9, 0x4, 3, TE),
      data(3, Buffer.alloc(20_000, 2), 0x1),
      frame(0x1, 0x0, 5, Buffer.alloc(0)),
      frame(0x9, 0x4, 5, Buffer.concat([GRPC_REQUEST, indexed(62)])),
      PING,
    ]);
    const whole = run([conn]);
    for (const size of [1, 2, 7, 9, 10, 100, 4096]) {
      const chunks: Buffer[] = [];
      for (let o = 0; o < conn.length; o += size) chunks.push(conn.subarray(o, o + size));
      expect(run(chunks).equals(whole), `chunks of ${size}`).toBe(true);
    }
    expect(serverView(whole).map((b) => authorityOf(b.fields))).toEqual([[[':authority', 'ok']], [[':authority', 'localhost']], [[':authority', 'localhost']]]);
    // DATA passes untouched.
    const dataFrames = frames(whole).filter((f) => f.type === 0);
    expect(dataFrames.map((f) => f.payload.length)).toEqual([300, 20_000]);
  });

  it('drops only the first SETTINGS acknowledgement when asked to', () => {
    const ack = frame(0x4, 0x1, 0, Buffer.alloc(0));
    const filter = new AuthorityFilter({ dropFirstSettingsAck: true });
    const input = [PREFACE, SETTINGS, ack.subarray(0, 4), Buffer.concat([ack.subarray(4), PING, ack])];
    const out = run(input, filter);
    expect(out.equals(Buffer.concat([PREFACE, SETTINGS, PING, ack]))).toBe(true);
    expect(filter.settingsAckDropped).toBe(true);
    expect(() => new AuthorityFilter({ dropFirstSettingsAck: true }).push(Buffer.concat([PREFACE, frame(0x4, 0x1, 0, Buffer.alloc(6))]))).toThrow(H2FilterError);
  });

  it('release() gives back held bytes as they came', () => {
    const filter = new AuthorityFilter();
    const start = frame(0x1, 0, 1, Buffer.concat([GRPC_REQUEST, lit(':authority', 'ok')]));
    const cont = frame(0x9, 0x4, 1, TE);
    const seen: number[] = [];
    filter.onFrame = (t) => seen.push(t);
    const out = Buffer.concat(filter.push(Buffer.concat([PREFACE, SETTINGS, start, cont.subarray(0, 12)])));
    expect(out.equals(Buffer.concat([PREFACE, SETTINGS]))).toBe(true);
    expect(Buffer.concat(filter.release()).equals(Buffer.concat([start, cont.subarray(0, 12)]))).toBe(true);
    expect(seen).toEqual([0x4, 0x1, 0x9]);
    expect(filter.headerBlocks).toBe(0);
  });

  const malformed: [string, Buffer[]][] = [
    ['a connection that does not start with the preface', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['a DATA frame inside a header block', [PREFACE, frame(0x1, 0, 1, GRPC_REQUEST), data(1, Buffer.alloc(1))]],
    ['CONTINUATION without HEADERS', [PREFACE, frame(0x9, 0x4, 1, GRPC_REQUEST)]],
    ['CONTINUATION on another stream', [PREFACE, frame(0x1, 0, 1, GRPC_REQUEST), frame(0x9, 0x4, 3, TE)]],
    ['PUSH_PROMISE from the client', [PREFACE, frame(0x5, 0x4, 1, Buffer.concat([Buffer.alloc(4), GRPC_REQUEST]))]],
    ['padding longer than the frame', [PREFACE, frame(0x1, 0x8 | 0x4, 1, Buffer.from([50, 0x82]))]],
    ['a PADDED frame without a pad length', [PREFACE, frame(0x1, 0x8 | 0x4, 1, Buffer.alloc(0))]],
    ['a priority cut short', [PREFACE, frame(0x1, 0x20 | 0x4, 1, Buffer.from([0, 0]))]],
    ['HEADERS on stream 0', [PREFACE, headers(0, GRPC_REQUEST)]],
    ['an HPACK error', [PREFACE, headers(1, Buffer.from([0x80]))]],
    ['a header block over 256 KiB', [PREFACE, ...Array.from({ length: 20 }, (_, i) => frame(i === 0 ? 0x1 : 0x9, 0, 1, Buffer.alloc(16384)))]],
  ];
  it.each(malformed)('refuses %s with H2FilterError', (_what, input) => {
    const filter = new AuthorityFilter();
    expect(() => input.forEach((c) => filter.push(c))).toThrow(H2FilterError);
  });
});
