import { describe, expect, it } from 'vitest';
import { readTar, parsePax, type TarEntry } from './tar-reader.js';
import { makeTar, rawTar } from './test-support/tars.js';

async function* chunks(b: Buffer, size = 700): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function readAll(b: Buffer, maxEntryBytes = 1 << 30) {
  const out: { header: TarEntry['header']; data: string }[] = [];
  for await (const e of readTar(chunks(b), { maxEntryBytes })) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    out.push({ header: e.header, data: Buffer.concat(parts).toString() });
  }
  return out;
}

describe('readTar', () => {
  it('reads what tar-stream writes: types, modes, ids, long names, links', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const tar = await makeTar([
      { name: 'dir/', type: 'directory', mode: 0o1777, uid: 7, gid: 8 },
      { name: 'dir/file', body: 'hello', mode: 0o4755 },
      { name: long, body: 'deep' },
      { name: 'dir/sl', type: 'symlink', linkname: '/etc/hosts' },
      { name: 'dir/hl', type: 'link', linkname: 'dir/file' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'p', type: 'fifo' },
    ]);
    const got = await readAll(tar);
    expect(got.map((g) => [g.header.name, g.header.type])).toEqual([
      ['dir/', 'dir'], ['dir/file', 'file'], [long, 'file'], ['dir/sl', 'symlink'], ['dir/hl', 'hardlink'], ['dev/null', 'char'], ['p', 'fifo'],
    ]);
    expect(got[0]!.header).toMatchObject({ mode: 0o1777, uid: 7, gid: 8 });
    expect(got[1]).toMatchObject({ data: 'hello', header: { mode: 0o4755, size: 5, mtime: 1_600_000_000 } });
    expect(got[2]!.data).toBe('deep');
    expect(got[3]!.header.linkname).toBe('/etc/hosts');
    expect(got[5]!.header).toMatchObject({ devMajor: 1, devMinor: 3 });
  });

  it('skips unread bodies and keeps PAX xattr values as raw bytes', async () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex'); // not valid UTF-8
    const tar = rawTar([
      { name: 'skipme', data: Buffer.alloc(3000, 1) },
      { name: 'bin/ping', data: Buffer.from('x'), pax: { 'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.user.k': Buffer.from('v') } },
    ]);
    const seen: TarEntry['header'][] = [];
    for await (const e of readTar(chunks(tar), { maxEntryBytes: 1 << 20 })) seen.push(e.header);
    expect(seen.map((h) => h.name)).toEqual(['skipme', 'bin/ping']);
    expect(seen[1]!.xattrs.get('security.capability')).toEqual(cap);
    expect(seen[1]!.xattrs.get('user.k')!.toString()).toBe('v');
  });

  it('refuses an entry whose declared size is above the limit before reading it', async () => {
    const tar = rawTar([{ name: 'huge', size: 2 ** 40, base256Size: true }], 0);
    await expect(readAll(tar, 1 << 30)).rejects.toThrow(/"huge" declares 1099511627776 bytes, above the limit/);
  });

  it('refuses bad checksums and truncated data', async () => {
    const good = rawTar([{ name: 'a', data: Buffer.from('abc') }]);
    const bad = Buffer.from(good);
    bad[0] = 0x62; // name changes, checksum does not
    await expect(readAll(bad)).rejects.toThrow(/checksum mismatch/);
    await expect(readAll(rawTar([{ name: 'a', size: 4096, data: Buffer.from('abc') }], 0))).rejects.toThrow(/truncated/);
  });

  it('parses PAX records and refuses malformed ones', () => {
    const m = parsePax(Buffer.from('16 path=a/b/cde\n12 uid=1000\n'));
    expect(m.get('path')!.toString()).toBe('a/b/cde');
    expect(m.get('uid')!.toString()).toBe('1000');
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/malformed PAX/);
  });

  it('refuses unsupported entry types (e.g. GNU sparse)', async () => {
    await expect(readAll(rawTar([{ name: 's', typeflag: 'S' }]))).rejects.toThrow(/"s": unsupported type flag "S"/);
  });
});
