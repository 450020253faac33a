import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pack, extract } from 'tar-stream';
import { createReadStream } from 'node:fs';
import { InvalidArgumentError } from '@crius/common';
import { entryName, packDirectory, unpackArchive, wanted } from './archive.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crius-archive-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tar of exactly these entries, as a foreign tool could write it. */
async function tarOf(entries: { name: string; type?: string; body?: string; linkname?: string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) p.entry({ name: e.name, type: (e.type ?? 'file') as 'file', linkname: e.linkname, mode: 0o644 }, e.body ?? '');
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function names(tarFile: string): Promise<string[]> {
  const ex = extract();
  createReadStream(tarFile).pipe(ex);
  const out: string[] = [];
  for await (const e of ex) {
    out.push(e.header.name);
    e.resume();
  }
  return out;
}

describe('packDirectory', () => {
  it('writes the directory as a tar CRI-O and checkpointctl read: names relative, parents first, mode 0600', async () => {
    const src = path.join(dir, 'src');
    await mkdir(path.join(src, 'checkpoint'), { recursive: true });
    await writeFile(path.join(src, 'checkpoint', 'inventory.img'), 'inv');
    await writeFile(path.join(src, 'config.dump'), '{}');
    const out = path.join(dir, 'out.tar');
    await packDirectory(src, out);
    expect(await names(out)).toEqual(['checkpoint/', 'checkpoint/inventory.img', 'config.dump']);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['out.tar', 'src']); // no temp file left
  });

  it('round-trips through unpackArchive byte for byte', async () => {
    const src = path.join(dir, 'src');
    await mkdir(path.join(src, 'checkpoint'), { recursive: true });
    const pages = Buffer.alloc(300_000, 7);
    await writeFile(path.join(src, 'checkpoint', 'pages-1.img'), pages);
    await writeFile(path.join(src, 'spec.dump'), '{"ociVersion":"1.0.2"}');
    await packDirectory(src, path.join(dir, 'a.tar'));
    await unpackArchive(path.join(dir, 'a.tar'), path.join(dir, 'dest'));
    expect((await readFile(path.join(dir, 'dest', 'checkpoint', 'pages-1.img'))).equals(pages)).toBe(true);
    expect(await readFile(path.join(dir, 'dest', 'spec.dump'), 'utf8')).toBe('{"ociVersion":"1.0.2"}');
  });
});

describe('unpackArchive', () => {
  const unpack = async (bytes: Buffer) => {
    await writeFile(path.join(dir, 'in.tar'), bytes);
    await unpackArchive(path.join(dir, 'in.tar'), path.join(dir, 'dest'));
    return path.join(dir, 'dest');
  };

  it('reads CRI-O names with ./ and skips what a checkpoint does not hold', async () => {
    const dest = await unpack(await tarOf([{ name: './', type: 'directory' }, { name: './config.dump', body: 'c' }, { name: 'etc/passwd', body: 'x' }]));
    expect(await readdir(dest)).toEqual(['config.dump']);
  });

  it('reads a gzip-compressed archive (Podman exports them)', async () => {
    const dest = await unpack(gzipSync(await tarOf([{ name: 'spec.dump', body: 's' }])));
    expect(await readFile(path.join(dest, 'spec.dump'), 'utf8')).toBe('s');
  });

  it.each([
    ['a symlink', [{ name: 'config.dump', type: 'symlink', linkname: '/etc/shadow' }], /config.dump" is a symlink/],
    ['a name leaving the archive', [{ name: 'checkpoint/../../x', body: 'x' }], /leaves the archive/],
    ['an absolute name', [{ name: '/config.dump', body: 'x' }], /absolute path/],
    ['a duplicate entry', [{ name: 'config.dump', body: 'a' }, { name: 'config.dump', body: 'b' }], /appears twice/],
  ])('refuses %s with INVALID_ARGUMENT and writes nothing outside', async (_what, entries, message) => {
    const err = await unpack(await tarOf(entries)).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(message);
    expect(await readdir(dir)).toEqual(expect.not.arrayContaining(['x']));
  });

  it('says a file that is not a tar is not one', async () => {
    const err = await unpack(Buffer.from('this is not a tar archive, just some text that is long enough '.repeat(20))).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/not a readable tar archive|empty or not a tar/);
  });

  it('says an empty file is empty', async () => {
    const err = await unpack(Buffer.alloc(0)).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/empty or not a tar archive/);
  });

  it('names zstd compression, which it does not read', async () => {
    const err = await unpack(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/zstd-compressed/);
  });
});

describe('entry names', () => {
  it('normalises ./ and repeated slashes', () => {
    expect(entryName('./checkpoint//pages-1.img', 'x')).toBe('checkpoint/pages-1.img');
    expect(entryName('./', 'x')).toBe('');
  });

  it('wants the checkpoint files and flat CRIU images only', () => {
    expect(wanted('checkpoint/inventory.img')).toBe(true);
    expect(wanted('checkpoint')).toBe(true);
    expect(wanted('checkpoint/sub/x')).toBe(false);
    expect(wanted('io.kubernetes.cri-o.LogPath')).toBe(true);
    expect(wanted('etc/passwd')).toBe(false);
  });
});

// Keep a symlink in the source tree out of an archive: packDirectory stores it as a link, never its target.
it('packs a symlink as a link, not what it points at', async () => {
  const src = path.join(dir, 'src');
  await mkdir(src);
  await symlink('/etc/hostname', path.join(src, 'link'));
  await packDirectory(src, path.join(dir, 'l.tar'));
  const ex = extract();
  createReadStream(path.join(dir, 'l.tar')).pipe(ex);
  for await (const e of ex) {
    expect(e.header).toMatchObject({ name: 'link', type: 'symlink', linkname: '/etc/hostname' });
    e.resume();
  }
});
