import http2 from 'node:http2';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { writeInteger } from './hpack.js';
import { huffmanCode, huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const latin1 = (b: Buffer) => b.toString('latin1');

describe('HPACK Huffman code', () => {
  it('has the codes RFC 7541 Appendix B lists', () => {
    expect(huffmanCode(0)).toEqual([0x1ff8, 13]);
    expect(huffmanCode(0x20)).toEqual([0x14, 6]); // ' '
    expect(huffmanCode(0x30)).toEqual([0x0, 5]); // '0'
    expect(huffmanCode(0x61)).toEqual([0x3, 5]); // 'a'
    expect(huffmanCode(0x7e)).toEqual([0x1ffd, 13]); // '~'
    expect(huffmanCode(0xff)).toEqual([0x3ffffee, 26]);
    expect(huffmanCode(256)).toEqual([0x3fffffff, 30]); // EOS
  });

  it('is a complete prefix code (Kraft sum exactly 1)', () => {
    let sum = 0;
    for (let s = 0; s <= 256; s++) sum += 2 ** -huffmanCode(s)[1];
    expect(sum).toBe(1);
  });

  // RFC 7541 Appendix C.4 and C.6 (the Huffman-coded strings of its examples).
  const examples: [string, string][] = [
    ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
    ['no-cache', 'a8eb 1064 9cbf'],
    ['custom-key', '25a8 49e9 5ba9 7d7f'],
    ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
    ['302', '6402'],
    ['307', '640e ff'],
    ['private', 'aec3 771a 4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
    ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
    ['gzip', '9bd9 ab'],
    ['foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1', '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'],
  ];
  it.each(examples)('encodes and decodes %j as in RFC 7541 Appendix C', (text, coded) => {
    expect(huffmanEncode(text).toString('hex')).toBe(hex(coded).toString('hex'));
    expect(huffmanLength(text)).toBe(hex(coded).length);
    expect(huffmanDecode(hex(coded))).toBe(text);
  });

  it('round-trips every octet and random strings', () => {
    const all = latin1(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    expect(huffmanDecode(huffmanEncode(all))).toBe(all);
    for (let n = 0; n < 200; n++) {
      const s = latin1(randomBytes(n % 40));
      expect(huffmanDecode(huffmanEncode(s))).toBe(s);
    }
    expect(huffmanDecode(Buffer.alloc(0))).toBe('');
  });

  it('decodes a slice of a larger buffer', () => {
    const coded = Buffer.concat([Buffer.from([1, 2]), huffmanEncode('/run/crius/crius.sock'), Buffer.from([3])]);
    expect(huffmanDecode(coded, 2, coded.length - 1)).toBe('/run/crius/crius.sock');
  });

  it('refuses EOS, padding longer than 7 bits and padding that is not EOS\'s prefix', () => {
    expect(() => huffmanDecode(hex('ffff ffff'))).toThrow(/EOS/); // 32 one bits hold EOS
    expect(() => huffmanDecode(hex('ff'))).toThrow(/padding/); // 8 bits of padding
    expect(() => huffmanDecode(hex('1f ff'))).toThrow(/padding/); // 'a' then 11 one bits
    expect(() => huffmanDecode(hex('00'))).toThrow(/padding/); // '0' then 000
  });

  it('codes strings that nghttp2 decodes to the same octets', async () => {
    // Every octet a header value may hold (HTAB, SP..~, 0x80..0xff; not first or last), in one Huffman literal.
    const octets = [0x61, 0x09, ...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i), ...Array.from({ length: 0x80 }, (_, i) => 0x80 + i), 0x7a];
    const value = latin1(Buffer.from(octets));
    const got = await nghttp2Decodes(value);
    expect(Buffer.from(got, 'latin1').equals(Buffer.from(octets))).toBe(true);
  });
});

/** Sends `x-v: <value Huffman-coded>` to a node:http2 server over a raw socket; resolves with what it decoded. */
async function nghttp2Decodes(value: string): Promise<string> {
  const server = http2.createServer();
  const sock = new net.Socket();
  const seen = new Promise<string>((resolve, reject) => {
    server.on('stream', (stream, headers) => {
      resolve(String(headers['x-v']));
      stream.respond({ ':status': 200 }, { endStream: true });
    });
    // A reset stream or connection is an answer too: nghttp2 refused the block.
    sock.on('data', (d: Buffer) => {
      for (let o = 0; o + 9 <= d.length; o += 9 + d.readUIntBE(o, 3)) if (d[o + 3] === 0x3 || d[o + 3] === 0x7) reject(new Error(`nghttp2 answered frame type ${d[o + 3]}`));
    });
    sock.on('close', () => reject(new Error('connection closed')));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  sock.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  try {
    const coded = huffmanEncode(value);
    const lit = (name: string, v: string) => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([v.length]), Buffer.from(v)]);
    const len = Buffer.alloc(8);
    const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), lit(':authority', 'localhost'), Buffer.from([0x00, 3]), Buffer.from('x-v'), len.subarray(0, writeInteger(len, 0, coded.length, 7, 0x80)), coded]);
    const head = Buffer.alloc(9);
    head.writeUIntBE(block.length, 0, 3);
    head[3] = 0x1;
    head[4] = 0x5;
    head.writeUInt32BE(1, 5);
    sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), head, block]));
    return await seen;
  } finally {
    sock.destroy();
    await new Promise((r) => server.close(r));
  }
}
