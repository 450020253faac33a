// The OS calls Node lacks (mknod, xattrs, mount), behind one small interface. Owner: storage-svc.
// Implemented with util-linux/attr/coreutils commands run by execFile (no shell); tests and
// pure logic can swap in another StorageOs.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
  superOptions: string;
}

export type UnmountResult = 'unmounted' | 'lazy' | 'not-mounted';

export interface StorageOs {
  /** Creates a device node or fifo at `path` (never follows: mknod(2) fails on an existing path). */
  mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number): Promise<void>;
  /** Sets an xattr on `path` itself, not on a symlink's target. */
  setXattr(path: string, name: string, value: Buffer): Promise<void>;
  /** Reads an xattr of `path` itself; undefined when it is not set. */
  getXattr(path: string, name: string): Promise<Buffer | undefined>;
  /** Mounts overlayfs at `target`; `cwd` anchors relative lowerdir paths. */
  mountOverlay(target: string, options: string, cwd: string): Promise<void>;
  /** Unmounts `target`; falls back to a lazy detach when it is busy. */
  unmount(target: string): Promise<UnmountResult>;
  mounts(): Promise<MountInfo[]>;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function run(file: string, args: string[], cwd?: string, encoding: 'utf8' | 'buffer' = 'utf8'): Promise<Buffer | string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, encoding, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const errText = Buffer.isBuffer(stderr) ? stderr.toString('utf8') : stderr;
      if (err) reject(new CommandError(`${file} ${args.join(' ')}: ${errText.trim() || err.message}`, errText, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** The real thing: mknod(1), setfattr/getfattr(1) from the attr package, mount(8)/umount(8). */
export const commandOs: StorageOs = {
  async mknod(path, type, major, minor) {
    const args = ['-m', '000', '--', path, type];
    if (type !== 'p') args.push(String(major), String(minor));
    await run('mknod', args);
  },
  async setXattr(path, name, value) {
    // Hex keeps binary values (security.capability) intact on the command line.
    await run('setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, '--', path]);
  },
  async getXattr(path, name) {
    try {
      const out = (await run('getfattr', ['-h', '--absolute-names', '-e', 'hex', '-n', name, '--', path])) as string;
      const m = /=0x([0-9a-f]*)\s*$/m.exec(out);
      return m ? Buffer.from(m[1]!, 'hex') : Buffer.alloc(0);
    } catch (e) {
      if (e instanceof CommandError && /No such attribute/.test(e.stderr)) return undefined;
      throw e;
    }
  },
  async mountOverlay(target, options, cwd) {
    await run('mount', ['-t', 'overlay', '-o', options, '--', 'overlay', target], cwd);
  },
  async unmount(target) {
    try {
      await run('umount', ['--', target]);
      return 'unmounted';
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      if (/not mounted|no mount point/i.test(e.stderr)) return 'not-mounted';
      if (!/busy/i.test(e.stderr)) throw e;
    }
    await run('umount', ['-l', '--', target]);
    return 'lazy';
  },
  async mounts() {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  },
};

/** Parses /proc/self/mountinfo (proc(5)); octal escapes (\040 for space…) are decoded. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 4) continue;
    out.push({
      mountPoint: unescapeOctal(f[4]!),
      options: f[5]!,
      fsType: f[sep + 1]!,
      source: unescapeOctal(f[sep + 2]!),
      superOptions: f[sep + 3]!,
    });
  }
  return out;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
