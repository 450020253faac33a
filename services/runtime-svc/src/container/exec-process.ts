// What every exec runs: the container's own process settings (user, env,
// capabilities, cwd… from its bundle's config.json) with another command,
// written to a private process.json for `runc exec --process` or conmon's
// --exec-process-spec. The caller removes the directory when done.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ociJson, parseOciJson, type OciSpec } from '../spec/index.js';
import type { ContainerRecord } from '../store/records.js';

/** The container's process from its bundle. */
export async function containerProcess(rec: Pick<ContainerRecord, 'bundle'>): Promise<OciSpec['process']> {
  const spec = parseOciJson<OciSpec>(await readFile(path.join(rec.bundle, 'config.json'), 'utf8'));
  return spec.process;
}

export interface ExecDir {
  dir: string;
  processFile: string;
}

/** A fresh private dir holding `process` as process.json. */
export async function writeExecProcess(prefix: string, process: object): Promise<ExecDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const processFile = path.join(dir, 'process.json');
  await writeFile(processFile, ociJson(process), { mode: 0o600 });
  return { dir, processFile };
}
