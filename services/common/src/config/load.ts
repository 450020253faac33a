// Loads /etc/crius/crius.toml (or $CRIUS_CONFIG), validates it against the
// schema and fills defaults. Unknown keys are refused with a hint; every
// message names the key. Types are derived from the schema, never restated.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { InvalidArgumentError } from '../errors.js';
import { SCHEMA, type Field, type Section, type SectionName } from './schema.js';

type FieldValue<F> = F extends { type: 'string' }
  ? string
  : F extends { type: 'number' }
    ? number
    : F extends { type: 'boolean' }
      ? boolean
      : string[];
type FieldsValue<Fs> = { -readonly [K in keyof Fs]: FieldValue<Fs[K]> };
type TablesValue<S> = S extends { tables: infer T }
  ? { -readonly [K in keyof T]: T[K] extends { fields: infer Fs } ? Record<string, FieldsValue<Fs>> : never }
  : unknown;
type SectionValue<S> = S extends { fields: infer Fs } ? FieldsValue<Fs> & TablesValue<S> : never;
export type CriusConfig = { -readonly [K in SectionName]: SectionValue<(typeof SCHEMA)[K]> };

export const DEFAULT_CONFIG_PATH = '/etc/crius/crius.toml';

export function configPath(explicit?: string): string {
  return explicit ?? process.env.CRIUS_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** Read and validate a config file; a missing default file means all defaults. */
export function loadConfig(file?: string): CriusConfig {
  const p = configPath(file);
  let text = '';
  try {
    text = readFileSync(p, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || file !== undefined || process.env.CRIUS_CONFIG) {
      throw new InvalidArgumentError(`config ${p}: cannot read: ${(err as Error).message}`, { cause: err });
    }
  }
  return parseConfig(text, p);
}

export function parseConfig(text: string, source = 'crius.toml'): CriusConfig {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgumentError(`config ${source}: ${(err as Error).message}`, { cause: err });
  }
  return validateConfig(raw, source);
}

export function validateConfig(raw: Record<string, unknown>, source = 'crius.toml'): CriusConfig {
  rejectUnknown(Object.keys(raw), Object.keys(SCHEMA), source, '');
  const out: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(SCHEMA) as [string, Section][]) {
    out[name] = validateSection(asTable(raw[name] ?? {}, `${name}`, source), section, `${name}`, source);
  }
  return out as CriusConfig;
}

function validateSection(raw: Record<string, unknown>, section: Section, where: string, source: string): Record<string, unknown> {
  const tables = section.tables ?? {};
  rejectUnknown(Object.keys(raw), [...Object.keys(section.fields), ...Object.keys(tables)], source, where);
  const out = validateFields(raw, section.fields, where, source);
  for (const [tname, table] of Object.entries(tables)) {
    const given = asTable(raw[tname] ?? {}, `${where}.${tname}`, source);
    const merged: Record<string, unknown> = {};
    const names = new Set([...Object.keys(table.defaults), ...Object.keys(given)]);
    for (const entry of names) {
      const base = table.defaults[entry] ?? {};
      const over = asTable(given[entry] ?? {}, `${where}.${tname}.${entry}`, source);
      rejectUnknown(Object.keys(over), Object.keys(table.fields), source, `${where}.${tname}.${entry}`);
      merged[entry] = validateFields({ ...base, ...over }, table.fields, `${where}.${tname}.${entry}`, source);
    }
    out[tname] = merged;
  }
  return out;
}

function validateFields(raw: Record<string, unknown>, fields: Record<string, Field>, where: string, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const value = key in raw ? raw[key] : field.default;
    out[key] = checkValue(value, field, `${where}.${key}`, source);
  }
  return out;
}

function checkValue(value: unknown, field: Field, key: string, source: string): unknown {
  const bad = (why: string) => new InvalidArgumentError(`config ${source}: ${key} ${why}`);
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') throw bad(`must be a string, got ${describe(value)}`);
      if (field.enum && !field.enum.includes(value)) throw bad(`must be one of ${field.enum.join(', ')}, got ${JSON.stringify(value)}`);
      return checked(value, field, bad);
    case 'number': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(`must be a number, got ${describe(value)}`);
      if (field.min !== undefined && n < field.min) throw bad(`must be at least ${field.min}, got ${n}`);
      if (field.max !== undefined && n > field.max) throw bad(`must be at most ${field.max}, got ${n}`);
      return checked(n, field, bad);
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw bad(`must be true or false, got ${describe(value)}`);
      return value;
    case 'string[]':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(`must be a list of strings, got ${describe(value)}`);
      return checked([...value], field, bad);
  }
}

function checked<T>(value: T, field: Field, bad: (why: string) => Error): T {
  const problem = field.check?.(value as never);
  if (problem) throw bad(problem);
  return value;
}

function asTable(value: unknown, key: string, source: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`config ${source}: [${key}] must be a table, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function rejectUnknown(keys: string[], known: string[], source: string, where: string): void {
  for (const k of keys) {
    if (known.includes(k)) continue;
    const hint = closest(k, known);
    const full = where ? `${where}.${k}` : k;
    throw new InvalidArgumentError(`config ${source}: unknown key ${full}${hint ? ` (did you mean ${where ? `${where}.` : ''}${hint}?)` : ''}`);
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a table' : `${typeof v} ${JSON.stringify(v)}`;
}

/** The known key nearest by edit distance, if it is near enough to be a typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Per-service state directories: durable and volatile. */
export function serviceDirs(cfg: CriusConfig, service: string): { state: string; run: string } {
  return { state: path.join(cfg.state.root, service), run: path.join(cfg.state.run_root, service) };
}

export function credentialsDir(cfg: CriusConfig): string {
  return cfg.bus.credentials_dir || path.join(cfg.state.run_root, 'bus');
}

/** image-svc's content store: written by image-svc, read by storage-svc to unpack layers. */
export function contentStoreDir(cfg: CriusConfig): string {
  return path.join(cfg.state.root, 'image', 'content');
}
