// Reads containers-registries.conf(5) the way containers/image does: the main
// file (version 2, or the deprecated version 1 tables), then every `*.conf` in
// the `<file>.d` directory beside it in lexical order, each drop-in overriding
// what it sets (whole [[registry]] entries by prefix, the search list, aliases
// by name, "" erasing one). Keys crius does not use are reported, not fatal:
// the file is shared with podman, skopeo and CRI-O. Owner: image-svc.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { InvalidArgumentError } from '@crius/common';
import {
  PULL_FROM_MIRROR, validateAlias, validateRegistriesConfig, type MirrorConfig, type PullFromMirror, type RegistryConfig,
} from './registries.js';

export const DEFAULT_REGISTRIES_CONF = '/etc/containers/registries.conf';

/** What the files say, merged; `unqualifiedSearchRegistries` is undefined when no file sets it. */
export interface RegistriesConf {
  registries: RegistryConfig[];
  unqualifiedSearchRegistries?: string[];
  aliases: Record<string, string>;
  /** Every file read, in order. */
  files: string[];
}

type Table = Record<string, unknown>;
type Warn = (message: string) => void;

const TOP_KEYS = new Set(['unqualified-search-registries', 'registry', 'aliases', 'short-name-mode', 'credential-helpers', 'additional-layer-store-auth-helper', 'registries']);
const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror', 'mirror-by-digest-only']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);
const SHORT_NAME_MODES = ['enforcing', 'permissive', 'disabled'];

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(file: string, key: string, why: string): never {
  throw new InvalidArgumentError(`registries config ${file}: ${key} ${why}`);
}

function str(t: Table, key: string, file: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(file, `${where}${key}`, 'must be a string');
  return v;
}

function bool(t: Table, key: string, file: string, where: string): boolean | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') fail(file, `${where}${key}`, 'must be true or false');
  return v;
}

function strings(t: Table, key: string, file: string): string[] | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(file, key, 'must be a list of strings');
  return v as string[];
}

function unknownKeys(t: Table, known: Set<string>, file: string, where: string, warn: Warn): void {
  for (const k of Object.keys(t)) if (!known.has(k)) warn(`registries config ${file}: ignoring unknown key ${where}${k}`);
}

function parseMirror(raw: unknown, file: string, where: string, warn: Warn): MirrorConfig {
  if (!isTable(raw)) fail(file, where, 'must be a table');
  unknownKeys(raw, MIRROR_KEYS, file, `${where}.`, warn);
  const pull = str(raw, 'pull-from-mirror', file, `${where}.`);
  if (pull !== undefined && pull !== '' && !PULL_FROM_MIRROR.includes(pull as PullFromMirror)) {
    fail(file, `${where}.pull-from-mirror`, `must be one of ${PULL_FROM_MIRROR.join(', ')}, got ${JSON.stringify(pull)}`);
  }
  return {
    location: str(raw, 'location', file, `${where}.`) ?? '',
    insecure: bool(raw, 'insecure', file, `${where}.`),
    ...(pull ? { pullFromMirror: pull as PullFromMirror } : {}),
  };
}

function parseRegistry(raw: unknown, file: string, i: number, warn: Warn): RegistryConfig {
  const where = `[[registry]] #${i + 1}`;
  if (!isTable(raw)) fail(file, where, 'must be a table');
  unknownKeys(raw, REGISTRY_KEYS, file, `${where} `, warn);
  if (raw['pull-from-mirror'] !== undefined) fail(file, `${where} pull-from-mirror`, 'is only valid in a [[registry.mirror]]');
  const mirrors = raw.mirror === undefined ? [] : raw.mirror;
  if (!Array.isArray(mirrors)) fail(file, `${where} mirror`, 'must be an array of tables ([[registry.mirror]])');
  return {
    prefix: str(raw, 'prefix', file, `${where} `),
    location: str(raw, 'location', file, `${where} `) ?? '',
    insecure: bool(raw, 'insecure', file, `${where} `),
    blocked: bool(raw, 'blocked', file, `${where} `),
    mirrorByDigestOnly: bool(raw, 'mirror-by-digest-only', file, `${where} `),
    mirrors: mirrors.map((m, j) => parseMirror(m, file, `${where} mirror #${j + 1}`, warn)),
    source: file,
  };
}

/** The deprecated version 1 tables ([registries.search|insecure|block] registries = […]) as v2 entries. */
function fromVersion1(v1: Table, file: string): { registries: RegistryConfig[]; search?: string[] } {
  const list = (name: string) => {
    const t = v1[name];
    if (t === undefined) return [];
    if (!isTable(t)) fail(file, `[registries.${name}]`, 'must be a table');
    return strings(t, 'registries', file) ?? [];
  };
  const byLocation = new Map<string, RegistryConfig>();
  const entry = (location: string) => {
    let r = byLocation.get(location);
    if (!r) byLocation.set(location, (r = { prefix: location, location, source: file }));
    return r;
  };
  for (const host of list('block')) entry(host).blocked = true;
  for (const host of list('insecure')) entry(host).insecure = true;
  const search = v1.search === undefined ? undefined : list('search');
  return { registries: [...byLocation.values()], search };
}

interface FileConf {
  registries: RegistryConfig[];
  search?: string[];
  aliases: Record<string, string>;
}

function parseFile(text: string, file: string, dropIn: boolean, warn: Warn): FileConf {
  let raw: Table;
  try {
    raw = parseToml(text) as Table;
  } catch (err) {
    throw new InvalidArgumentError(`registries config ${file}: ${(err as Error).message}`, { cause: err });
  }
  unknownKeys(raw, TOP_KEYS, file, '', warn);
  const mode = str(raw, 'short-name-mode', file, '');
  if (mode !== undefined && mode !== '' && !SHORT_NAME_MODES.includes(mode)) {
    fail(file, 'short-name-mode', `must be one of ${SHORT_NAME_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const helpers = strings(raw, 'credential-helpers', file) ?? [];
  if (helpers.some((h) => h !== 'containers-auth.json')) {
    warn(`registries config ${file}: credential-helpers other than containers-auth.json are not run by crius (see [image] global_auth_file)`);
  }
  const aliases: Record<string, string> = {};
  if (raw.aliases !== undefined) {
    if (!isTable(raw.aliases)) fail(file, '[aliases]', 'must be a table');
    for (const [name, value] of Object.entries(raw.aliases)) {
      if (typeof value !== 'string') fail(file, `[aliases] ${JSON.stringify(name)}`, 'must be a string');
      if (value !== '') {
        try {
          validateAlias(name, value);
        } catch (err) {
          throw new InvalidArgumentError(`registries config ${file}: ${(err as Error).message}`, { cause: err });
        }
      }
      aliases[name] = value;
    }
  }
  const rawRegistries = raw.registry === undefined ? [] : raw.registry;
  if (!Array.isArray(rawRegistries)) fail(file, 'registry', 'must be an array of tables ([[registry]])');
  const registries = rawRegistries.map((r, i) => parseRegistry(r, file, i, warn));
  let search = strings(raw, 'unqualified-search-registries', file);
  if (raw.registries !== undefined) {
    if (!isTable(raw.registries)) fail(file, '[registries]', 'must be a table');
    if (dropIn) fail(file, '[registries]', 'is the version 1 format, which drop-in files may not use');
    if (registries.length > 0 || search !== undefined) fail(file, '[registries]', 'mixes the version 1 format with version 2 keys');
    const v1 = fromVersion1(raw.registries, file);
    registries.push(...v1.registries);
    search = v1.search;
  }
  return { registries, search, aliases };
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidArgumentError(`registries config ${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

async function dropIns(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => !e.isDirectory() && e.name.endsWith('.conf')).map((e) => join(dir, e.name)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InvalidArgumentError(`registries config ${dir}: cannot list: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Loads `file` and `<file>.d/*.conf`. A missing main file is an error only when
 * `required` (a path the operator chose); drop-ins are read either way.
 */
export async function loadRegistriesConf(file: string, opts: { required?: boolean; onWarning?: Warn } = {}): Promise<RegistriesConf> {
  const warn = opts.onWarning ?? (() => {});
  const out: RegistriesConf = { registries: [], aliases: {}, files: [] };
  const byPrefix = new Map<string, RegistryConfig>();
  const apply = (conf: FileConf, source: string) => {
    out.files.push(source);
    // Each entry is checked (and its prefix defaulted) before merging by prefix.
    const checked = validateRegistriesConfig({ registries: conf.registries, unqualifiedSearchRegistries: conf.search ?? [] });
    for (const entry of checked.registries) byPrefix.set(entry.prefix!, entry);
    if (conf.search !== undefined) out.unqualifiedSearchRegistries = conf.search;
    for (const [name, value] of Object.entries(conf.aliases)) {
      if (value === '') delete out.aliases[name];
      else out.aliases[name] = value;
    }
  };
  const main = await readIfPresent(file);
  if (main === undefined && opts.required) throw new InvalidArgumentError(`registries config ${file}: file does not exist`);
  try {
    if (main !== undefined) apply(parseFile(main, file, false, warn), file);
    for (const dropIn of await dropIns(`${file}.d`)) {
      const text = await readIfPresent(dropIn);
      if (text !== undefined) apply(parseFile(text, dropIn, true, warn), dropIn);
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError && !err.message.startsWith('registries config')) {
      throw new InvalidArgumentError(`registries config ${out.files.at(-1) ?? file}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  out.registries = [...byPrefix.keys()].sort().map((p) => byPrefix.get(p)!);
  return out;
}
