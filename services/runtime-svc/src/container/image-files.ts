// Reading small files out of an image's rootfs without ever following a
// symlink: an image could point /etc/passwd at a host path, and runtime-svc
// reads as root. A link anywhere on the way counts as "file absent".
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';

const MAX_BYTES = 1024 * 1024;

export async function readRootfsFile(rootfs: string, rel: string): Promise<string | undefined> {
  const parts = rel.split('/').filter(Boolean);
  let cur = rootfs;
  for (const part of parts.slice(0, -1)) {
    cur = path.join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
  }
  let fh;
  try {
    fh = await open(path.join(cur, parts.at(-1)!), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_BYTES) return undefined;
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}
