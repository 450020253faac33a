// Test helpers: build layer tars (tar-stream for ordinary ones, a raw writer for hostile or
// binary-PAX headers tar-stream will not write), temp dirs, and mount cleanup. Owner: storage-svc tests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  body?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** PAX records (string values only: tar-stream writes them as UTF-8). */
  pax?: Record<string, string>;
}

/** A tar built by tar-stream. */
export async function makeTar(entries: TEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = {
      name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? new Date(1_600_000_000_000),
      linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor, size: body.length,
      pax: e.pax,
    } as Parameters<typeof pack.entry>[0];
    await new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface RawEntry {
  name: string;
  typeflag?: string;
  size?: number;
  /** Data actually written (may differ from `size` for hostile tars). */
  data?: Buffer;
  mode?: number;
  linkname?: string;
  /** Raw PAX records written in an `x` header before the entry. */
  pax?: Record<string, Buffer>;
  /** Encode size in GNU base-256 (for sizes octal cannot hold). */
  base256Size?: boolean;
}

/** A tar written byte by byte, for headers no well-behaved writer produces. */
export function rawTar(entries: RawEntry[], endBlocks = 2): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const recs = Buffer.concat(Object.entries(e.pax).map(([k, v]) => paxRecord(k, v)));
      parts.push(header({ name: 'PaxHeader', typeflag: 'x', size: recs.length }), pad(recs));
    }
    parts.push(header(e));
    if (e.data) parts.push(pad(e.data));
  }
  parts.push(Buffer.alloc(512 * endBlocks));
  return Buffer.concat(parts);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function header(e: RawEntry): Buffer {
  const b = Buffer.alloc(512);
  b.write(e.name, 0, 100, 'utf8');
  b.write(octal(e.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  const size = e.size ?? e.data?.length ?? 0;
  if (e.base256Size) {
    b[124] = 0x80;
    b.writeBigUInt64BE(BigInt(size), 128);
  } else b.write(octal(size, 12), 124, 'latin1');
  b.write(octal(1_600_000_000, 12), 136, 'latin1');
  b.write(e.typeflag ?? '0', 156, 'latin1');
  if (e.linkname) b.write(e.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return b;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\u0000`;
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rem)]);
}

export function diffIdOf(tarBytes: Buffer): string {
  return `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`;
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

/** zstd-compresses with the CLI (the same tool the service decodes with). */
export function zstd(b: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `crius-${prefix}-`));
}

export function writeBlob(dir: string, name: string, bytes: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything under `dir` (lazily if needed), then deletes it. Never throws. */
export function cleanupDir(dir: string): void {
  for (let i = 0; i < 4; i++) {
    const ms = mountsUnder(dir);
    if (ms.length === 0) break;
    for (const m of ms) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

export function getXattr(path: string, name: string): Buffer | undefined {
  try {
    const out = execFileSync('getfattr', ['-h', '--absolute-names', '-e', 'hex', '-n', name, '--', path], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const m = /=0x([0-9a-f]*)/.exec(out);
    return m ? Buffer.from(m[1]!, 'hex') : Buffer.alloc(0);
  } catch {
    return undefined;
  }
}

/** Builds a tar from `entries`, writes it as a blob in `dir`, and returns what ensure() needs. */
export async function layerBlob(dir: string, entries: TEntry[]): Promise<{ diffId: string; path: string; tar: Buffer }> {
  const tarBytes = await makeTar(entries);
  const diffId = diffIdOf(tarBytes);
  const path = writeBlob(dir, `blob-${diffId.slice(7, 19)}-${Math.random().toString(36).slice(2, 8)}`, gzip(tarBytes));
  return { diffId, path, tar: tarBytes };
}
