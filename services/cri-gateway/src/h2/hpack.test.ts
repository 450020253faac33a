import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeWithoutIndexing, HpackDecoder, HpackError, STATIC_TABLE, writeInteger, type HeaderField } from './hpack.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: HeaderField[]) => fields.map((f) => [f.name, f.value]);

function int(value: number, prefix: number, flags = 0): string {
  const b = Buffer.alloc(16);
  return b.subarray(0, writeInteger(b, 0, value, prefix, flags)).toString('hex');
}

describe('HPACK integers (RFC 7541 C.1)', () => {
  it('encodes 10 and 1337 with a 5-bit prefix and 42 with an 8-bit one', () => {
    expect(int(10, 5)).toBe('0a');
    expect(int(1337, 5)).toBe('1f9a0a');
    expect(int(42, 8)).toBe('2a');
    expect(int(31, 5, 0x20)).toBe('3f00');
  });

  it('decodes a multi-byte index', () => {
    // 1337 as a 5-bit size update, then a table limited below it.
    expect(new HpackDecoder({ limit: 2000 }).decode(hex('3f9a0a')).tableSizeUpdates).toEqual([1337]);
  });
});

describe('HPACK field representations (RFC 7541 C.2)', () => {
  it('C.2.1 literal with indexing adds to the dynamic table', () => {
    const d = new HpackDecoder();
    const block = d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(block.fields).toEqual([{ name: 'custom-key', value: 'custom-header', rep: 'incremental' }]);
    expect(d.table.entries).toEqual([['custom-key', 'custom-header']]);
    expect(d.table.size).toBe(55);
  });

  it('C.2.2 literal without indexing leaves the table empty', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')).fields).toEqual([{ name: ':path', value: '/sample/path', rep: 'without' }]);
    expect(d.table.size).toBe(0);
  });

  it('C.2.3 literal never indexed', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).fields).toEqual([{ name: 'password', value: 'secret', rep: 'never' }]);
    expect(d.table.size).toBe(0);
  });

  it('C.2.4 indexed field from the static table', () => {
    expect(new HpackDecoder().decode(hex('82')).fields).toEqual([{ name: ':method', value: 'GET', rep: 'indexed' }]);
  });
});

// The three requests of C.3 (raw strings) and C.4 (Huffman): same fields, same tables.
const requests: { fields: [string, string][]; table: [string, string][]; size: number }[] = [
  { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']], table: [[':authority', 'www.example.com']], size: 57 },
  {
    fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 110,
  },
  {
    fields: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
    table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 164,
  },
];

describe.each([
  ['C.3 requests without Huffman coding', ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65']],
  ['C.4 requests with Huffman coding', ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']],
])('HPACK %s', (_name, blocks) => {
  it('decodes the three requests in order, with the dynamic table the RFC shows after each', () => {
    const d = new HpackDecoder();
    blocks.forEach((b, i) => {
      expect(pairs(d.decode(hex(b)).fields)).toEqual(requests[i]!.fields);
      expect(d.table.entries).toEqual(requests[i]!.table);
      expect(d.table.size).toBe(requests[i]!.size);
    });
  });
});

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const loc = 'https://www.example.com';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const responses: { fields: [string, string][]; table: [string, string][]; size: number }[] = [
  {
    fields: [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
    table: [['location', loc], ['date', date1], ['cache-control', 'private'], [':status', '302']],
    size: 222,
  },
  {
    fields: [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
    table: [[':status', '307'], ['location', loc], ['date', date1], ['cache-control', 'private']],
    size: 222,
  },
  {
    fields: [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', loc], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
    table: [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
    size: 215,
  },
];

describe.each([
  [
    'C.5 responses without Huffman coding',
    [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ],
  ],
  [
    'C.6 responses with Huffman coding',
    [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  ],
])('HPACK %s (table size 256, with eviction)', (_name, blocks) => {
  it('decodes the three responses in order, evicting as the RFC shows', () => {
    const d = new HpackDecoder({ maxSize: 256 });
    blocks.forEach((b, i) => {
      expect(pairs(d.decode(hex(b)).fields)).toEqual(responses[i]!.fields);
      expect(d.table.entries).toEqual(responses[i]!.table);
      expect(d.table.size).toBe(responses[i]!.size);
    });
  });
});

describe('HPACK dynamic table size updates (RFC 7541 §4.2, §6.3)', () => {
  it('shrinking evicts, and an update to 0 empties the table', () => {
    const d = new HpackDecoder();
    d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'));
    d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'));
    // 3f 17 = 31 + 23 = 54: only the newer entry (53 octets) still fits.
    const block = d.decode(hex('3f17 be'));
    expect(block.tableSizeUpdates).toEqual([54]);
    expect(pairs(block.fields)).toEqual([['cache-control', 'no-cache']]);
    expect(d.table.entries).toEqual([['cache-control', 'no-cache']]);
    const cleared = d.decode(hex('20 3fe1 1f 82'));
    expect(cleared.tableSizeUpdates).toEqual([0, 4096]);
    expect(d.table.entries).toEqual([]);
    expect(d.table.maxSize).toBe(4096);
  });

  it('an entry larger than the table empties it and is not added', () => {
    const d = new HpackDecoder({ maxSize: 64 });
    d.decode(hex('4103 6162 63')); // :authority: abc (45 octets)
    expect(d.table.size).toBe(45);
    const long = 'x'.repeat(40);
    d.decode(Buffer.concat([hex('41'), Buffer.from([long.length]), Buffer.from(long)]));
    expect(d.table.entries).toEqual([]);
    expect(d.table.size).toBe(0);
  });
});

describe('HPACK malformed blocks', () => {
  const bad: [string, string, RegExp][] = [
    ['index 0', '80', /index 0/],
    ['an index past both tables', 'be', /past the dynamic table/],
    ['a size update after a field', '82 20', /after a header field/],
    ['a size update above the limit', '3fe2 ff03', /exceeds the limit/], // 31 + 98 + 127·128 + 3·16384 = 64 KiB + 1
    ['a string running past the block', '0005 6162', /runs past/],
    ['a block ending inside an integer', '3f', /inside an integer/],
    ['a block ending before a string', '00', /before a string/],
    ['an absurdly long integer', '3fff ffff ffff ff01', /too large/],
    ['Huffman EOS in a literal', '0084 ffff ffff 00', /EOS/],
  ];
  it.each(bad)('refuses %s with HpackError', (_what, block, message) => {
    expect(() => new HpackDecoder().decode(hex(block))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex(block))).toThrow(message);
  });
});

describe('encodeWithoutIndexing', () => {
  const fields: HeaderField[] = [
    { name: ':method', value: 'POST', rep: 'indexed' },
    { name: ':authority', value: 'localhost', rep: 'incremental' },
    { name: 'content-type', value: 'application/grpc', rep: 'incremental' },
    { name: 'grpc-timeout', value: '5S', rep: 'incremental' },
    { name: 'authorization', value: 'secret', rep: 'never' },
    { name: 'x-bin', value: '\u0000\u00ff', rep: 'without' },
  ];

  it('decodes back to the same fields and leaves the receiver\'s dynamic table empty', () => {
    const d = new HpackDecoder();
    const block = d.decode(encodeWithoutIndexing(fields));
    expect(pairs(block.fields)).toEqual(pairs(fields));
    expect(block.fields.map((f) => f.rep)).toEqual(['indexed', 'without', 'without', 'without', 'never', 'without']);
    expect(d.table.size).toBe(0);
  });

  it('uses a static index for an exact match and a static name index otherwise', () => {
    expect(encodeWithoutIndexing([{ name: ':method', value: 'POST', rep: 'incremental' }]).toString('hex')).toBe('83');
    // :authority is static entry 1: 0000 0001, then the raw value.
    expect(encodeWithoutIndexing([{ name: ':authority', value: 'a', rep: 'incremental' }]).toString('hex')).toBe('010161');
  });

  it('puts size updates first', () => {
    const d = new HpackDecoder();
    const block = d.decode(encodeWithoutIndexing([{ name: ':path', value: '/', rep: 'indexed' }], [0, 4096]));
    expect(block.tableSizeUpdates).toEqual([0, 4096]);
    expect(pairs(block.fields)).toEqual([[':path', '/']]);
  });

  it('is what nghttp2 decodes', async () => {
    const got = await nghttp2Decodes(encodeWithoutIndexing([
      { name: ':method', value: 'POST', rep: 'indexed' },
      { name: ':scheme', value: 'http', rep: 'indexed' },
      { name: ':path', value: '/x', rep: 'without' },
      { name: ':authority', value: 'localhost', rep: 'without' },
      { name: 'x-long', value: 'v'.repeat(300), rep: 'without' },
      { name: 'x-secret', value: 's', rep: 'never' },
    ]));
    expect(got[':path']).toBe('/x');
    expect(got[':authority']).toBe('localhost');
    expect(got['x-long']).toBe('v'.repeat(300));
    expect(got['x-secret']).toBe('s');
  });
});

describe('HpackDecoder against a real encoder (nghttp2 in node:http2)', () => {
  it('follows its dynamic table and Huffman strings over many requests, through eviction', async () => {
    const sent: Record<string, string>[] = [];
    for (let i = 0; i < 60; i++) {
      sent.push({ ':method': 'POST', ':path': `/runtime.v1.RuntimeService/M${i % 7}`, 'x-request': `req-${i}-${'abc'.repeat(i % 20)}`, 'x-same': 'same-value', 'grpc-timeout': `${i * 1000 + 7}u` });
    }
    const blocks = await blocksFromNodeClient(sent);
    const d = new HpackDecoder();
    const decoded = blocks.map((b) => Object.fromEntries(d.decode(b).fields.map((f) => [f.name, f.value])));
    expect(decoded).toHaveLength(sent.length);
    decoded.forEach((got, i) => {
      for (const [k, v] of Object.entries(sent[i]!)) expect(got[k]).toBe(v);
      expect(got[':authority']).toBe('localhost:1');
    });
    expect(d.table.size).toBeGreaterThan(3000); // the table filled up and evicted
  });
});

it('the static table has the 61 entries of RFC 7541 Appendix A', () => {
  expect(STATIC_TABLE).toHaveLength(61);
  expect(STATIC_TABLE[0]).toEqual([':authority', '']);
  expect(STATIC_TABLE[37]).toEqual(['host', '']);
  expect(STATIC_TABLE[60]).toEqual(['www-authenticate', '']);
});

/** Sends one request whose header block is `block` to a node:http2 server; resolves with the headers it decoded. */
async function nghttp2Decodes(block: Buffer): Promise<Record<string, string>> {
  const server = http2.createServer();
  const sock = new net.Socket();
  const seen = new Promise<Record<string, string>>((resolve, reject) => {
    server.on('stream', (stream, headers) => {
      resolve(headers as Record<string, string>);
      stream.respond({ ':status': 200 }, { endStream: true });
    });
    sock.on('data', (d: Buffer) => {
      for (let o = 0; o + 9 <= d.length; o += 9 + d.readUIntBE(o, 3)) if (d[o + 3] === 0x3 || d[o + 3] === 0x7) reject(new Error(`nghttp2 answered frame type ${d[o + 3]}`));
    });
    sock.on('close', () => reject(new Error('connection closed')));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sock.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  sock.on('error', () => undefined);
  try {
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

/**
 * The header blocks a node:http2 client sends for these requests, in order,
 * captured by a bare TCP server that answers SETTINGS and nothing else.
 */
async function blocksFromNodeClient(requests: Record<string, string>[]): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let preface = false;
    sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!preface) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        preface = true;
      }
      let pending: Buffer[] = [];
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const type = buf[3]!;
        const flags = buf[4]!;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === 0x4 && !(flags & 0x1)) sock.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]));
        if (type === 0x1 || type === 0x9) {
          let p = payload;
          if (type === 0x1 && flags & 0x8) p = p.subarray(1, p.length - p[0]!);
          if (type === 0x1 && flags & 0x20) p = p.subarray(5);
          pending.push(Buffer.from(p));
          if (flags & 0x4) {
            blocks.push(Buffer.concat(pending));
            pending = [];
            if (blocks.length === requests.length) done();
          }
        }
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = http2.connect(`http://localhost:1`, { createConnection: () => net.connect(port, '127.0.0.1') });
  client.on('error', () => undefined);
  try {
    for (const r of requests) client.request(r, { endStream: true }).on('error', () => undefined);
    await all;
    return blocks;
  } finally {
    client.destroy();
    await new Promise((r) => server.close(r));
  }
}
