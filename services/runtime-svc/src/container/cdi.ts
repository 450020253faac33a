// CDI for CreateContainer: reads the spec files of [runtime] cdi_spec_dirs
// (*.json and *.yaml, by name within a directory) on every create that asks
// for a device, so a spec a driver wrote a moment ago is seen, and resolves
// the requested devices to their edits. Owned by runtime-svc/container; the
// parsing and applying are pure (spec/cdi.ts, spec/cdi-edits.ts).
import { lstatSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerConfig } from '@crius/common/cri';
import { buildCdiRegistry, requestedCdiDevices, resolveCdiDevices, type CdiEdits, type CdiSpecFile, type CdiDeviceStat } from '../spec/index.js';
import { major, minor } from './host-facts.js';

export async function readCdiSpecFiles(dirs: readonly string[]): Promise<CdiSpecFile[]> {
  const out: CdiSpecFile[] = [];
  for (const [priority, dir] of dirs.entries()) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.json') || n.endsWith('.yaml')).sort()) {
      const file = path.join(dir, name);
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) out.push({ path: file, priority, text });
    }
  }
  return out;
}

/** The edits for the CDI devices a container asks for; undefined when it asks for none. */
export async function cdiEditsFor(config: ContainerConfig, dirs: readonly string[]): Promise<CdiEdits[] | undefined> {
  const names = requestedCdiDevices(config);
  if (names.length === 0) return undefined;
  return resolveCdiDevices(buildCdiRegistry(await readCdiSpecFiles(dirs)), names);
}

export function statCdiDevice(p: string): CdiDeviceStat {
  const st = lstatSync(p);
  const type = st.isBlockDevice() ? 'b' : st.isCharacterDevice() ? 'c' : st.isFIFO() ? 'p' : undefined;
  if (!type) throw new Error('not a device node');
  return { type, major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777 };
}
