// Container Device Interface (CDI) specs: parsing and validating them, the
// registry of fully qualified device names ("vendor.com/class=name") they
// define, and which devices a CreateContainer asks for (CDI_devices and the
// cdi.k8s.io/ annotations, as containerd and CRI-O take both). Owned by
// runtime-svc/spec; pure: the caller reads the spec files (container/cdi.ts).
// Applying the edits to the OCI spec is in cdi-edits.ts.
//
// Facts from the CDI spec (0.3.0 … 1.0.x) and its reference library:
// spec-level containerEdits apply once when any device of that spec is
// asked for, then each device's own; a later spec directory wins over an
// earlier one for the same device, and two specs in one directory that
// define the same device make it unusable; a spec file that does not parse
// or validate is skipped (and named when one of its devices is missing).
import { parse as parseYaml } from 'yaml';
import { InvalidArgumentError, NotFoundError } from '@crius/common';
import type { ContainerConfig } from '@crius/common/cri';

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  additionalGids?: number[];
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  devices: { name: string; containerEdits: CdiEdits }[];
  containerEdits?: CdiEdits;
}

/** The spec versions this code implements (the edits above; no intelRdt or netDevices). */
const VERSIONS = /^(0\.[3-8]|1\.0)\.\d+$/;
export const HOOK_NAMES: readonly string[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;
const VENDOR = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const CLASS = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

type Obj = Record<string, unknown>;

class SpecError extends Error {}

function obj(v: unknown, where: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SpecError(`${where} must be an object`);
  return v as Obj;
}

function only(o: Obj, keys: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (k === 'intelRdt' || k === 'netDevices') throw new SpecError(`${where}.${k} is not supported by crius`);
    if (!keys.includes(k)) throw new SpecError(`${where} has an unknown field "${k}"`);
  }
}

function str(o: Obj, k: string, where: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (required) throw new SpecError(`${where}.${k} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || (required && v === '')) throw new SpecError(`${where}.${k} must be a${required ? ' non-empty' : ''} string`);
  return v;
}

function strs(o: Obj, k: string, where: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SpecError(`${where}.${k} must be a list of strings`);
  return v as string[];
}

function uint(o: Obj, k: string, where: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SpecError(`${where}.${k} must be a non-negative integer`);
  return v;
}

function env(list: string[] | undefined, where: string): string[] | undefined {
  const bad = list?.find((e) => e.indexOf('=') <= 0);
  if (bad !== undefined) throw new SpecError(`${where}: invalid environment variable ${JSON.stringify(bad)} (want NAME=value)`);
  return list;
}

function absolute(p: string, where: string): string {
  if (!p.startsWith('/')) throw new SpecError(`${where} "${p}" is not an absolute path`);
  return p;
}

function edits(v: unknown, where: string): CdiEdits {
  const o = obj(v, where);
  only(o, ['env', 'deviceNodes', 'mounts', 'hooks', 'additionalGIDs', 'additionalGids'], where);
  const out: CdiEdits = {};
  const e = env(strs(o, 'env', where), `${where}.env`);
  if (e) out.env = e;
  const list = (k: string) => {
    const x = o[k];
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x)) throw new SpecError(`${where}.${k} must be a list`);
    return x as unknown[];
  };
  out.deviceNodes = list('deviceNodes').map((d, i) => deviceNode(d, `${where}.deviceNodes[${i}]`));
  out.mounts = list('mounts').map((m, i) => {
    const w = `${where}.mounts[${i}]`;
    const mo = obj(m, w);
    only(mo, ['hostPath', 'containerPath', 'type', 'options'], w);
    return {
      hostPath: str(mo, 'hostPath', w, true)!,
      containerPath: absolute(str(mo, 'containerPath', w, true)!, `${w}.containerPath`),
      type: str(mo, 'type', w),
      options: strs(mo, 'options', w),
    };
  });
  out.hooks = list('hooks').map((h, i) => {
    const w = `${where}.hooks[${i}]`;
    const ho = obj(h, w);
    only(ho, ['hookName', 'path', 'args', 'env', 'timeout'], w);
    const hookName = str(ho, 'hookName', w, true)!;
    if (!HOOK_NAMES.includes(hookName)) throw new SpecError(`${w}.hookName "${hookName}" is not one of ${HOOK_NAMES.join(', ')}`);
    const timeout = uint(ho, 'timeout', w);
    if (timeout === 0) throw new SpecError(`${w}.timeout must be greater than zero`);
    return { hookName, path: absolute(str(ho, 'path', w, true)!, `${w}.path`), args: strs(ho, 'args', w), env: env(strs(ho, 'env', w), `${w}.env`), timeout };
  });
  const gids = o.additionalGIDs ?? o.additionalGids;
  if (gids !== undefined && gids !== null) {
    if (!Array.isArray(gids) || gids.some((g) => typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > 0xffffffff)) {
      throw new SpecError(`${where}.additionalGIDs must be a list of uint32`);
    }
    out.additionalGids = gids as number[];
  }
  return out;
}

function deviceNode(v: unknown, where: string): CdiDeviceNode {
  const o = obj(v, where);
  only(o, ['path', 'hostPath', 'type', 'major', 'minor', 'fileMode', 'permissions', 'uid', 'gid'], where);
  const d: CdiDeviceNode = { path: absolute(str(o, 'path', where, true)!, `${where}.path`) };
  const hostPath = str(o, 'hostPath', where);
  if (hostPath) d.hostPath = absolute(hostPath, `${where}.hostPath`);
  const type = str(o, 'type', where);
  if (type !== undefined && type !== '') {
    if (!['b', 'c', 'u', 'p'].includes(type)) throw new SpecError(`${where}.type "${type}" is not b, c, u or p`);
    d.type = type;
  }
  for (const k of ['major', 'minor', 'fileMode', 'uid', 'gid'] as const) {
    const n = uint(o, k, where);
    if (n !== undefined) d[k] = n;
  }
  const perms = str(o, 'permissions', where);
  if (perms !== undefined && perms !== '') {
    if (perms !== 'none' && !/^[rwm]+$/.test(perms)) throw new SpecError(`${where}.permissions "${perms}" is not a subset of "rwm" (or "none")`);
    d.permissions = perms;
  }
  return d;
}

/** One spec file's text (JSON or YAML, by extension) → a validated spec; throws with the reason. */
export function parseCdiSpec(text: string, file: string): CdiSpec {
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, but a .json file is held to JSON.
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw new SpecError(`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  const o = obj(raw, 'spec');
  only(o, ['cdiVersion', 'kind', 'annotations', 'devices', 'containerEdits'], 'spec');
  const cdiVersion = str(o, 'cdiVersion', 'spec', true)!;
  if (!VERSIONS.test(cdiVersion)) throw new SpecError(`cdiVersion "${cdiVersion}" is not supported (0.3.0 to 1.0.x)`);
  const kind = str(o, 'kind', 'spec', true)!;
  kindParts(kind);
  if (!Array.isArray(o.devices) || o.devices.length === 0) throw new SpecError('spec.devices must list at least one device');
  const seen = new Set<string>();
  const devices = o.devices.map((d, i) => {
    const w = `devices[${i}]`;
    const dobj = obj(d, w);
    only(dobj, ['name', 'annotations', 'containerEdits'], w);
    const name = str(dobj, 'name', w, true)!;
    if (!NAME.test(name)) throw new SpecError(`${w}.name "${name}" is not a valid device name`);
    if (seen.has(name)) throw new SpecError(`device "${name}" is defined twice`);
    seen.add(name);
    const e = edits(dobj.containerEdits ?? {}, `${name}.containerEdits`);
    if (isEmpty(e)) throw new SpecError(`device "${name}" has no containerEdits`);
    return { name, containerEdits: e };
  });
  const spec: CdiSpec = { cdiVersion, kind, devices };
  if (o.containerEdits !== undefined && o.containerEdits !== null) spec.containerEdits = edits(o.containerEdits, 'spec.containerEdits');
  return spec;
}

function isEmpty(e: CdiEdits): boolean {
  return !e.env?.length && !e.deviceNodes?.length && !e.mounts?.length && !e.hooks?.length && !e.additionalGids?.length;
}

function kindParts(kind: string): [string, string] {
  const i = kind.indexOf('/');
  const vendor = kind.slice(0, i);
  const cls = kind.slice(i + 1);
  if (i <= 0 || !VENDOR.test(vendor) || !CLASS.test(cls)) throw new SpecError(`kind "${kind}" is not "vendor.com/class"`);
  return [vendor, cls];
}

/** "vendor.com/class=name" → its parts; InvalidArgument otherwise. */
export function parseQualifiedName(name: string): { kind: string; device: string } {
  const eq = name.indexOf('=');
  const kind = eq < 0 ? '' : name.slice(0, eq);
  const device = eq < 0 ? '' : name.slice(eq + 1);
  try {
    kindParts(kind);
  } catch {
    throw new InvalidArgumentError(`CDI device "${name}" is not a fully qualified name ("vendor.com/class=device")`);
  }
  if (!NAME.test(device)) throw new InvalidArgumentError(`CDI device "${name}": "${device}" is not a valid device name`);
  return { kind, device };
}

export interface CdiSpecFile {
  path: string;
  /** The index of its directory in cdi_spec_dirs: later directories win. */
  priority: number;
  text: string;
}

interface Entry {
  spec: CdiSpec;
  path: string;
  priority: number;
  edits: CdiEdits;
}

export interface CdiRegistry {
  devices: Map<string, Entry>;
  /** "file: reason" for every spec file skipped and every conflict. */
  errors: string[];
}

export function buildCdiRegistry(files: CdiSpecFile[]): CdiRegistry {
  const devices = new Map<string, Entry>();
  const conflicts = new Set<string>();
  const errors: string[] = [];
  for (const f of files) {
    let spec: CdiSpec;
    try {
      spec = parseCdiSpec(f.text, f.path);
    } catch (err) {
      errors.push(`${f.path}: ${(err as Error).message}`);
      continue;
    }
    for (const d of spec.devices) {
      const name = `${spec.kind}=${d.name}`;
      const old = devices.get(name);
      if (old && old.priority > f.priority) continue;
      if (old && old.priority === f.priority) {
        errors.push(`${f.path}: device ${name} is also defined by ${old.path}`);
        conflicts.add(name);
        continue;
      }
      devices.set(name, { spec, path: f.path, priority: f.priority, edits: d.containerEdits });
    }
  }
  for (const c of conflicts) devices.delete(c);
  return { devices, errors };
}

/** The devices asked for: CDI_devices, then cdi.k8s.io/* annotation values (comma separated), each once. */
export function requestedCdiDevices(config: Pick<ContainerConfig, 'CDIDevices' | 'annotations'>): string[] {
  const names = config.CDIDevices.map((d) => d.name);
  for (const [key, value] of Object.entries(config.annotations ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!key.startsWith('cdi.k8s.io/')) continue;
    names.push(...value.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return [...new Set(names)];
}

/** Spec-level edits once per spec, then each device's: the edits to apply, in order. */
export function resolveCdiDevices(registry: CdiRegistry, names: string[]): CdiEdits[] {
  const out: CdiEdits[] = [];
  const specs = new Set<CdiSpec>();
  const missing: string[] = [];
  for (const name of names) {
    parseQualifiedName(name);
    const e = registry.devices.get(name);
    if (!e) {
      missing.push(name);
      continue;
    }
    if (!specs.has(e.spec)) {
      specs.add(e.spec);
      if (e.spec.containerEdits) out.push(e.spec.containerEdits);
    }
    out.push(e.edits);
  }
  if (missing.length > 0) {
    const why = registry.errors.length ? `; specs not used: ${registry.errors.join('; ')}` : '';
    throw new NotFoundError(`unresolvable CDI device${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: not defined by any CDI spec${why}`);
  }
  return out;
}
