// Real unpacks as root into temp dirs: every file type and attribute, whiteouts, compressions,
// and hand-made hostile layers that must be refused leaving nothing behind.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { crc32, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackLayer } from './layer-unpack.js';
import { cleanupDir, diffIdOf, getXattr, gzip, makeTar, rawTar, tempDir, writeBlob, zstd, type TEntry } from './test-support/tars.js';

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZST = 'application/vnd.oci.image.layer.v1.tar+zstd';

let tmp: string;
let parent: string;
let target: string;
beforeEach(() => {
  tmp = tempDir('unpack');
  parent = join(tmp, 'layer');
  mkdirSync(parent);
  target = join(parent, 'diff');
});
afterEach(() => cleanupDir(tmp));

async function unpack(tar: Buffer, opts: { mediaType?: string; compress?: (b: Buffer) => Buffer; diffId?: string; maxLayerBytes?: number; allowDevices?: boolean } = {}) {
  const blob = writeBlob(tmp, 'blob', opts.compress ? opts.compress(tar) : tar);
  return unpackLayer(blob, target, {
    mediaType: opts.mediaType ?? TAR,
    expectedDiffId: opts.diffId ?? diffIdOf(tar),
    maxLayerBytes: opts.maxLayerBytes,
    allowDevices: opts.allowDevices,
  });
}

const mtime = new Date(1_500_000_000_000);
const fullLayer: TEntry[] = [
  { name: './', type: 'directory', mode: 0o755, mtime },
  { name: 'bin/', type: 'directory', mode: 0o755, mtime },
  { name: 'bin/su', body: 'suid', mode: 0o4755, uid: 0, gid: 0, mtime },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mtime },
  { name: 'bin/busybox', body: 'bb', mode: 0o755, uid: 1000, gid: 1001, mtime, pax: { 'SCHILY.xattr.user.origin': 'test' } },
  { name: 'bin/bb2', type: 'link', linkname: 'bin/busybox' },
  { name: 'tmp/', type: 'directory', mode: 0o1777, mtime },
  { name: 'dev/', type: 'directory', mode: 0o755, mtime },
  { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime },
  { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, mtime },
  { name: 'run/fifo', type: 'fifo', mode: 0o600, mtime },
  { name: 'etc/.wh.passwd', body: '' },
  { name: 'var/cache/.wh..wh..opq', body: '' },
  { name: 'var/cache/new', body: 'n' },
  { name: 'usr/lib/rel', type: 'symlink', linkname: '../../bin/busybox' },
];

describe('unpackLayer', () => {
  it('creates every entry type with modes, owners, mtimes and xattrs', async () => {
    const tar = await makeTar(fullLayer);
    const r = await unpack(tar);
    expect(r.diffId).toBe(diffIdOf(tar));
    expect(r.size).toBe(tar.length);
    expect(lstatSync(target).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(target, 'bin')).mtimeMs).toBe(mtime.getTime());
    const su = lstatSync(join(target, 'bin/su'));
    expect(su.mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(target, 'tmp')).mode & 0o7777).toBe(0o1777);
    const bb = lstatSync(join(target, 'bin/busybox'));
    expect([bb.uid, bb.gid, bb.nlink, bb.mtimeMs]).toEqual([1000, 1001, 2, mtime.getTime()]);
    expect(lstatSync(join(target, 'bin/bb2')).ino).toBe(bb.ino);
    expect(readFileSync(join(target, 'bin/busybox'), 'utf8')).toBe('bb');
    expect(getXattr(join(target, 'bin/busybox'), 'user.origin')?.toString()).toBe('test');
    expect(readlinkSync(join(target, 'bin/sh'))).toBe('/bin/busybox');
    expect(readlinkSync(join(target, 'usr/lib/rel'))).toBe('../../bin/busybox');
    const nul = lstatSync(join(target, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect([nul.rdev >> 8, nul.rdev & 0xff, nul.mode & 0o777]).toEqual([1, 3, 0o666]);
    expect(lstatSync(join(target, 'dev/loop9')).isBlockDevice()).toBe(true);
    expect(lstatSync(join(target, 'run/fifo')).isFIFO()).toBe(true);
    // OCI whiteouts in overlay form
    const wh = lstatSync(join(target, 'etc/passwd'));
    expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
    expect(existsSync(join(target, 'etc/.wh.passwd'))).toBe(false);
    expect(getXattr(join(target, 'var/cache'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(readdirSync(join(target, 'var/cache'))).toEqual(['new']);
    expect(readdirSync(parent)).toEqual(['diff']); // temp dir renamed away
  });

  it('keeps binary security.capability xattrs byte for byte and drops trusted.*', async () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex');
    const tar = rawTar([
      { name: 'ping', data: Buffer.from('p'), mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.trusted.overlay.redirect': Buffer.from('/etc') } },
    ]);
    const r = await unpack(tar);
    expect(getXattr(join(target, 'ping'), 'security.capability')).toEqual(cap);
    expect(getXattr(join(target, 'ping'), 'trusted.overlay.redirect')).toBeUndefined();
    expect(r.dropped).toEqual(['ping: xattr trusted.overlay.redirect']);
  });

  it('replaces a same-layer symlink instead of writing or chmod-ing through it', async () => {
    const victim = writeBlob(tmp, 'victim', Buffer.from('untouched'));
    const victimDir = join(tmp, 'victim-dir');
    mkdirSync(victimDir, { mode: 0o700 });
    const tar = await makeTar([
      { name: 'f', type: 'symlink', linkname: victim },
      { name: 'f', body: 'new', mode: 0o4777 },
      { name: 'd', type: 'symlink', linkname: victimDir },
      { name: 'd/', type: 'directory', mode: 0o777 },
    ]);
    await unpack(tar);
    expect(lstatSync(join(target, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('new');
    expect(lstatSync(join(target, 'd')).isDirectory()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(statSync(victim).mode & 0o7777).toBe(0o644);
    expect(statSync(victimDir).mode & 0o7777).toBe(0o700);
  });

  it('makes a directory recreated over a same-layer whiteout opaque', async () => {
    const tar = await makeTar([{ name: '.wh.opt', body: '' }, { name: 'opt/', type: 'directory' }, { name: 'opt/x', body: '1' }]);
    await unpack(tar);
    expect(lstatSync(join(target, 'opt')).isDirectory()).toBe(true);
    expect(getXattr(join(target, 'opt'), 'trusted.overlay.opaque')?.toString()).toBe('y');
  });

  it('skips whiteouts beneath a file that replaced a directory in the same layer (as umoci writes them)', async () => {
    const tar = await makeTar([{ name: 'opt/old', body: 'now a file' }, { name: 'opt/old/.wh.gone', body: '' }, { name: 'opt/old/.wh..wh..opq', body: '' }]);
    const r = await unpack(tar);
    expect(readFileSync(join(target, 'opt/old'), 'utf8')).toBe('now a file');
    expect(r.dropped).toEqual(['opt/old/.wh.gone: whiteout under the file "opt/old" (nothing to hide)', 'opt/old/.wh..wh..opq: whiteout under the file "opt/old" (nothing to hide)']);
  });

  it.each([
    ['gzip', GZ, gzip],
    ['zstd', ZST, zstd],
  ])('unpacks %s layers (detected by magic) and verifies the diffID of the uncompressed tar', async (_n, mediaType, compress) => {
    const tar = await makeTar([{ name: 'a/b', body: 'compressed' }]);
    const r = await unpack(tar, { mediaType, compress });
    expect(r.diffId).toBe(diffIdOf(tar));
    expect(readFileSync(join(target, 'a/b'), 'utf8')).toBe('compressed');
  });

  it.each([
    ['two gzip members', (tar: Buffer) => Buffer.concat([gzipSync(tar.subarray(0, 700)), gzipSync(tar.subarray(700))])],
    ['a gzip with trailing zero padding', (tar: Buffer) => Buffer.concat([gzipSync(tar), Buffer.alloc(512)])],
    ['a gzip with file name, comment, extra field and header CRC', (tar: Buffer) => withGzipHeaderFields(gzipSync(tar))],
  ])('unpacks %s', async (_n, compress) => {
    const tar = await makeTar([{ name: 'a/b', body: 'x'.repeat(5000) }, { name: 'c', body: 'y' }]);
    const r = await unpack(tar, { mediaType: GZ, compress });
    expect(r.diffId).toBe(diffIdOf(tar));
    expect(readFileSync(join(target, 'a/b'), 'utf8')).toBe('x'.repeat(5000));
    expect(readdirSync(parent)).toEqual(['diff']);
  });

  it('reports corrupt deflate data as an error and leaves nothing', async () => {
    const tar = await makeTar([{ name: 'a', body: randomBytes(100_000) }]);
    const gz = gzipSync(tar, { level: 1 });
    gz.fill(0xff, 40, 80);
    await expect(unpack(tar, { mediaType: GZ, compress: () => gz })).rejects.toThrow(/invalid|incorrect|diffID|tar:/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('reports a corrupt zstd blob with zstd’s own error', async () => {
    const tar = await makeTar([{ name: 'a', body: 'x'.repeat(100_000) }]);
    const z = zstd(tar);
    z.fill(0x55, 20, 60);
    await expect(unpack(tar, { mediaType: ZST, compress: () => z })).rejects.toThrow(/zstd/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses media types that are not layers', async () => {
    const tar = await makeTar([{ name: 'a', body: 'x' }]);
    await expect(unpack(tar, { mediaType: 'application/vnd.oci.image.config.v1+json' })).rejects.toThrow(/unsupported layer media type/);
  });
});

describe('unpackLayer of a blob still being downloaded', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Writes `bytes` to a new file in pieces, pausing between them, as a download does. */
  async function trickle(file: string, bytes: Buffer, pieces: number, pauseMs: number, stopAt = bytes.length) {
    const fh = await open(file, 'w');
    try {
      const step = Math.ceil(bytes.length / pieces);
      for (let off = 0; off < stopAt; off += step) {
        await fh.write(bytes, off, Math.min(step, stopAt - off), off);
        await sleep(pauseMs);
      }
    } finally {
      await fh.close();
    }
  }

  it('unpacks it as it grows and verifies the diffID', async () => {
    const tar = await makeTar([{ name: 'a/big', body: randomBytes(300_000) }, { name: 'b', body: 'end' }]);
    const gz = gzipSync(tar);
    const file = join(tmp, 'growing');
    await writeFile(file, '');
    const writing = trickle(file, gz, 12, 15);
    const r = await unpackLayer(file, target, { mediaType: GZ, expectedDiffId: diffIdOf(tar), growingSize: gz.length, stallMs: 5000 });
    await writing;
    expect(r.diffId).toBe(diffIdOf(tar));
    expect(readFileSync(join(target, 'b'), 'utf8')).toBe('end');
  });

  it('fails when the blob stops growing, and leaves nothing', async () => {
    const tar = await makeTar([{ name: 'a', body: randomBytes(100_000) }]);
    const gz = gzipSync(tar);
    const file = join(tmp, 'stalled');
    await trickle(file, gz, 4, 0, gz.length >> 1);
    await expect(unpackLayer(file, target, { mediaType: GZ, expectedDiffId: diffIdOf(tar), growingSize: gz.length, stallMs: 150 })).rejects.toThrow(/stopped growing at \d+ of \d+ bytes/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('fails at once when the blob is deleted (its download was abandoned)', async () => {
    const tar = await makeTar([{ name: 'a', body: randomBytes(100_000) }]);
    const gz = gzipSync(tar);
    const file = join(tmp, 'abandoned');
    await trickle(file, gz, 4, 0, gz.length >> 1);
    const started = Date.now();
    const unpacking = unpackLayer(file, target, { mediaType: GZ, expectedDiffId: diffIdOf(tar), growingSize: gz.length, stallMs: 30_000 });
    await sleep(50);
    await rm(file);
    await expect(unpacking).rejects.toThrow(/was deleted/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('unpackLayer refuses hostile layers and leaves nothing behind', () => {
  const cases: [string, () => Promise<Buffer>, RegExp][] = [
    ['../ path', () => makeTar([{ name: 'ok', body: '1' }, { name: '../evil', body: 'x' }]), /entry "\.\.\/evil": refused: path contains "\.\."/],
    ['absolute path', () => makeTar([{ name: '/etc/passwd', body: 'root::0:0' }]), /entry "\/etc\/passwd": refused: absolute path/],
    ['write through a symlink to /', () => makeTar([{ name: 'a', type: 'symlink', linkname: '/' }, { name: 'a/etc/x', body: 'x' }]), /entry "a\/etc\/x": refused: parent "a" is a symlink/],
    ['write through a relative symlink', () => makeTar([{ name: 'd/', type: 'directory' }, { name: 'l', type: 'symlink', linkname: 'd' }, { name: 'l/x', body: 'x' }]), /entry "l\/x": refused: parent "l" is a symlink/],
    ['hardlink to ../../x', () => makeTar([{ name: 'h', type: 'link', linkname: '../../x' }]), /entry "h": refused: hardlink target "\.\.\/\.\.\/x": path contains "\.\."/],
    ['hardlink to an absolute path', () => makeTar([{ name: 'h', type: 'link', linkname: '/etc/shadow' }]), /entry "h": refused: hardlink target "\/etc\/shadow": absolute/],
    ['hardlink to a file not in the layer', () => makeTar([{ name: 'h', type: 'link', linkname: 'etc/shadow' }]), /entry "h": refused: hardlink target "etc\/shadow" is not in this layer/],
    ['hardlink through a symlink', () => makeTar([{ name: 's', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 's/shadow' }]), /entry "h": refused: hardlink target "s\/shadow" goes through non-directory "s"/],
    ['symlink escaping via ..', () => makeTar([{ name: 'a/b/l', type: 'symlink', linkname: '../../../../etc/shadow' }]), /entry "a\/b\/l": refused: symlink target "\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow" escapes the layer root/],
    ['a whiteout through a symlink', () => makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/.wh.passwd', body: '' }]), /entry "a\/\.wh\.passwd": refused: parent "a" is a symlink/],
  ];
  it.each(cases)('%s', async (_name, build, message) => {
    const tar = await build();
    await expect(unpack(tar)).rejects.toThrow(message);
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(join(tmp, 'evil'))).toBe(false);
  });

  it('huge size header → refused before reading, as ResourceExhausted', async () => {
    const tar = rawTar([{ name: 'big', size: 2 ** 45, base256Size: true }], 0);
    const err = await unpack(tar, { maxLayerBytes: 1 << 30 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ResourceExhaustedError', message: expect.stringMatching(/"big" declares 35184372088832 bytes, above the limit of 1073741824/) });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('uncompressed stream over the limit (gzip bomb) → refused', async () => {
    const tar = await makeTar(Array.from({ length: 8 }, (_, i) => ({ name: `zeros${i}`, body: Buffer.alloc(512 << 10) })));
    await expect(unpack(tar, { compress: gzip, mediaType: GZ, maxLayerBytes: 1 << 20 })).rejects.toThrow(/exceeds the limit of 1048576 bytes/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('wrong diffID → refused, nothing left', async () => {
    const tar = await makeTar([{ name: 'a', body: 'x' }]);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await unpack(tar, { diffId: wrong }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidArgumentError', message: expect.stringContaining(`diffID mismatch: expected ${wrong}, the uncompressed tar hashes to ${diffIdOf(tar)}`) });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('device entries are refused when devices are not allowed', async () => {
    const tar = await makeTar([{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }]);
    await expect(unpack(tar, { allowDevices: false })).rejects.toThrow(/entry "dev\/sda": refused: block device 8:0 refused/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('never overwrites an existing target', async () => {
    mkdirSync(target);
    writeBlob(target, 'keep', Buffer.from('k'));
    await expect(unpack(await makeTar([{ name: 'a', body: 'x' }]))).rejects.toThrow();
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('k');
    expect(readdirSync(parent)).toEqual(['diff']);
    expect(statSync(target).isDirectory()).toBe(true);
  });
});

/** Rewrites a plain gzip member's header to carry FEXTRA, FNAME, FCOMMENT and FHCRC (RFC 1952). */
function withGzipHeaderFields(gz: Buffer): Buffer {
  const head = Buffer.from(gz.subarray(0, 10));
  head[3] = 0x02 | 0x04 | 0x08 | 0x10;
  const extra = Buffer.from([4, 0, 0x41, 0x42, 0, 0]); // XLEN 4: one subfield "AB" with no data
  const sofar = Buffer.concat([head, extra, Buffer.from('layer.tar\0'), Buffer.from('a comment\0')]);
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(crc32(sofar) & 0xffff);
  return Buffer.concat([sofar, hcrc, gz.subarray(10)]);
}
