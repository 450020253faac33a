// Helpers for the checkpoint/restore tests: whether this kernel can run CRIU
// at all (the only reason they skip), CRI log counters, archive listings.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { extract } from 'tar-stream';
import { BUILT_CRIU } from '../../services/runtime-svc/src/os/criu.js';

/** Why CRIU cannot work here ('' when it can): `criu check` of the CRIU crius would use. */
export function criuUnavailable(): string {
  const criu = existsSync(BUILT_CRIU) ? BUILT_CRIU : 'criu';
  try {
    execFileSync(criu, ['check'], { stdio: 'pipe', timeout: 30_000 });
    return '';
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const text = e.stderr?.toString().trim().split('\n').filter((l) => /Error/.test(l)).at(-1) ?? e.message;
    return `${criu} check fails on kernel ${execFileSync('uname', ['-r']).toString().trim()}: ${text}`;
  }
}

/** The numbers a counter container printed, in order, from its CRI log. */
export async function counts(logPath: string): Promise<number[]> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => / stdout F (\d+)$/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
}

export const last = (xs: number[]) => xs.at(-1) ?? 0;

/** Entry names of a tar file. */
export async function tarNames(file: string): Promise<string[]> {
  const ex = extract();
  createReadStream(file).pipe(ex);
  const out: string[] = [];
  for await (const e of ex) {
    out.push(e.header.name);
    e.resume();
  }
  return out;
}

/** One file's text from a tar. */
export async function tarFile(file: string, name: string): Promise<string | undefined> {
  const ex = extract();
  createReadStream(file).pipe(ex);
  let found: string | undefined;
  for await (const e of ex) {
    if (e.header.name === name) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      found = Buffer.concat(chunks).toString();
    } else e.resume();
  }
  return found;
}

/** A shell loop that counts in a variable only (the count lives in the process's memory). */
export const COUNTER = ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done'];
