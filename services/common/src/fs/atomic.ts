// Durable file writes for every service's records: temp file, fsync, rename,
// fsync of the directory; deletes rename first so a crash never leaves half a
// record. Records are versioned JSON; callers update memory only after a
// write succeeded.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Prefix of in-progress temp files; an owner's recovery may delete any it finds. */
export const TEMP_PREFIX = '.tmp-';

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  // A private file gets a private dir when the dir has to be made.
  await mkdir(dir, { recursive: true, mode: mode & 0o044 ? 0o755 : 0o700 });
  const tmp = path.join(dir, `${TEMP_PREFIX}${path.basename(file)}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Make a rename or unlink in dir durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface Versioned {
  version: number;
}

/** Write a record as JSON (bigints become strings); records should carry a version. */
export async function writeJsonAtomic(file: string, value: Versioned | object, mode = 0o600): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n', mode);
}

/** Read a JSON file; undefined when it does not exist (parse errors propagate). */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/** Unlink a file and make that durable; a missing file is fine. */
export async function removeFileDurable(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** Remove a record: rename to a tombstone first, then delete it. */
export async function removeAtomic(file: string): Promise<void> {
  const tomb = `${file}.deleted`;
  try {
    await rename(file, tomb);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(tomb, { force: true });
}

export interface LoadedRecord<T> {
  file: string;
  value?: T;
  error?: string;
}

/**
 * Read every `*.json` record of a directory. A record that does not parse is
 * reported (never thrown) so one bad file cannot block a service's start;
 * tombstones and temp files left by a crash are removed.
 */
export async function loadJsonDir<T>(dir: string): Promise<LoadedRecord<T>[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: LoadedRecord<T>[] = [];
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (name.endsWith('.deleted') || name.startsWith(TEMP_PREFIX)) {
      await rm(file, { force: true });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    try {
      out.push({ file, value: JSON.parse(await readFile(file, 'utf8')) as T });
    } catch (err) {
      out.push({ file, error: (err as Error).message });
    }
  }
  return out;
}
