// Pod and container config files (JSON or YAML, the shapes crictl accepts)
// into CRI messages. Keys may be proto names (pod_sandbox_id) or JSON names
// (podSandboxId). The field layout is probed from the generated ts-proto
// codecs themselves, so every unknown key or wrongly typed value is reported
// with its path instead of being dropped or coerced silently.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError } from './command.js';

export interface MessageCodec<T> {
  fromJSON(object: any): T; // eslint-disable-line @typescript-eslint/no-explicit-any
  fromPartial(object: any): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

type Obj = Record<string, unknown>;

/** A message type reached from the root codec: build its default and convert JSON into it. */
interface Shape {
  partial(p: unknown): Obj;
  json(j: unknown): Obj;
}

type Scalar = 'string' | 'number' | 'bigint' | 'boolean' | 'bytes';
type Kind =
  | { t: 'scalar'; s: Scalar; convert: (v: unknown) => unknown }
  | { t: 'message'; shape: Shape }
  | { t: 'repeated'; of: Kind }
  | { t: 'map'; of: Kind };

const PROBE = Object.freeze({ __probe: true });

function scalarOf(v: unknown): Scalar {
  if (v instanceof Uint8Array) return 'bytes';
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'bigint' || t === 'boolean' ? t : 'string';
}

/** A probe of a scalar field may throw (BigInt of an object); that too says "scalar". */
function attempt(fn: () => unknown): unknown {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** What field `f` of `shape` holds, found from its default and by probing the codec. */
function kindOf(shape: Shape, f: string, dflt: unknown): Kind {
  if (dflt === undefined) {
    return { t: 'message', shape: { partial: (p) => shape.partial({ [f]: p })[f] as Obj, json: (j) => shape.json({ [f]: j })[f] as Obj } };
  }
  if (Array.isArray(dflt)) {
    const el = attempt(() => (shape.partial({ [f]: [PROBE] })[f] as unknown[])[0]);
    if (el !== PROBE && el !== null && typeof el === 'object' && !(el instanceof Uint8Array)) {
      return {
        t: 'repeated',
        of: { t: 'message', shape: { partial: (p) => (shape.partial({ [f]: [p] })[f] as Obj[])[0]!, json: (j) => (shape.json({ [f]: [j] })[f] as Obj[])[0]! } },
      };
    }
    const convert = (v: unknown) => (shape.json({ [f]: [v] })[f] as unknown[])[0];
    return { t: 'repeated', of: { t: 'scalar', s: scalarOf(convert('1')), convert } };
  }
  if (dflt !== null && typeof dflt === 'object' && !(dflt instanceof Uint8Array)) {
    const v = attempt(() => (shape.partial({ [f]: { k: PROBE } })[f] as Obj).k);
    if (v !== null && typeof v === 'object' && v !== PROBE) {
      return {
        t: 'map',
        of: { t: 'message', shape: { partial: (p) => (shape.partial({ [f]: { k: p } })[f] as Obj).k as Obj, json: (j) => (shape.json({ [f]: { k: j } })[f] as Obj).k as Obj } },
      };
    }
    const convert = (x: unknown) => (shape.json({ [f]: { k: x } })[f] as Obj).k;
    return { t: 'map', of: { t: 'scalar', s: scalarOf(convert('1')), convert } };
  }
  return { t: 'scalar', s: scalarOf(dflt), convert: (v) => shape.json({ [f]: v })[f] };
}

export function camelCase(key: string): string {
  return key.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);

function checkScalar(kind: Extract<Kind, { t: 'scalar' }>, v: unknown): string | undefined {
  switch (kind.s) {
    case 'string':
      return typeof v === 'string' ? undefined : `expected a string, got ${describe(v)}`;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `expected true or false, got ${describe(v)}`;
    case 'bytes':
      return typeof v === 'string' ? undefined : `expected base64 text, got ${describe(v)}`;
    case 'bigint':
      return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? undefined : `expected an integer, got ${describe(v)}`;
    case 'number': {
      const isEnum = kind.convert('\u0000not-a-name') === -1;
      if (typeof v !== 'number' && typeof v !== 'string') return `expected ${isEnum ? 'an enum name or number' : 'a number'}, got ${describe(v)}`;
      const r = kind.convert(v);
      const ok = typeof r === 'number' && Number.isFinite(r) && (r !== -1 || String(v).trim() === '-1');
      if (ok && (typeof v === 'number' || isEnum || /^-?\d+(\.\d+)?$/.test(v.trim()))) return undefined;
      return isEnum ? `unknown value ${JSON.stringify(v)} (expected an enum name or number)` : `expected a number, got ${describe(v)}`;
    }
  }
}

function closest(key: string, names: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = d[j]!;
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return d[b.length]!;
  };
  const want = camelCase(key).toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const n of names) {
    const d = dist(want, n.toLowerCase());
    if (d <= Math.max(2, Math.floor(want.length / 4)) && (!best || d < best.d)) best = { name: n, d };
  }
  if (!best) return undefined;
  return key.includes('_') ? snakeCase(best.name) : best.name;
}

/** Checks `v` against `kind`; returns it with message keys renamed to the codec's field names. */
function checkValue(kind: Kind, v: unknown, where: string, problems: string[]): unknown {
  if (v === null || v === undefined) return undefined; // unset
  if (kind.t === 'scalar') {
    const p = checkScalar(kind, v);
    if (p) problems.push(`${where}: ${p}`);
    return v;
  }
  if (kind.t === 'message') return checkMessage(kind.shape, v, where, problems);
  if (kind.t === 'repeated') {
    if (Array.isArray(v)) {
      return v.map((el, i) => (el === null || el === undefined ? void problems.push(`${where}[${i}]: empty list item`) : checkValue(kind.of, el, `${where}[${i}]`, problems)));
    }
    problems.push(`${where}: expected a list, got ${describe(v)}`);
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`${where}: expected an object of key: value, got ${describe(v)}`);
    return undefined;
  }
  return Object.fromEntries(Object.entries(v).map(([k, el]) => [k, checkValue(kind.of, el, `${where}.${k}`, problems)]));
}

function checkMessage(shape: Shape, v: unknown, where: string, problems: string[]): Obj | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push(`${where || 'the file'}: expected an object, got ${describe(v)}`);
    return undefined;
  }
  const base = shape.partial({});
  const names = Object.keys(base);
  const seen = new Map<string, string>();
  const out: Obj = {};
  for (const [key, value] of Object.entries(v)) {
    const field = Object.hasOwn(base, key) ? key : camelCase(key);
    const at = where ? `${where}.${key}` : key;
    if (!Object.hasOwn(base, field)) {
      const hint = closest(key, names);
      problems.push(`${at}: unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`);
      continue;
    }
    const twice = seen.get(field);
    if (twice !== undefined) problems.push(`${at}: the same field as "${twice}", given twice`);
    seen.set(field, key);
    const normalized = checkValue(kindOf(shape, field, base[field]), value, at, problems);
    if (normalized !== undefined) out[field] = normalized;
  }
  return out;
}

function normalize<T>(codec: MessageCodec<T>, value: unknown): { problems: string[]; normalized: Obj | undefined } {
  const problems: string[] = [];
  const shape: Shape = { partial: (p) => codec.fromPartial(p) as Obj, json: (j) => codec.fromJSON(j) as Obj };
  const normalized = checkMessage(shape, value, '', problems);
  return { problems, normalized };
}

/** Every problem of `value` as a `codec` message, each naming its field path. */
export function specProblems<T>(codec: MessageCodec<T>, value: unknown): string[] {
  return normalize(codec, value).problems;
}

/** The message from an already parsed value; throws naming `source` and every bad field. */
export function specToMessage<T>(codec: MessageCodec<T>, value: unknown, source: string): T {
  const { problems, normalized } = normalize(codec, value);
  if (problems.length) {
    const shown = problems.slice(0, 8).map((p) => `  ${p}`);
    if (problems.length > 8) shown.push(`  (${problems.length - 8} more)`);
    throw new CliError(`${source}: invalid ${problems.length === 1 ? 'field' : 'fields'}:\n${shown.join('\n')}`);
  }
  return codec.fromJSON(normalized);
}

/** Parses JSON (by extension .json) or YAML text, with the position of a syntax error. */
export function parseSpecText(text: string, source: string): unknown {
  if (!text.trim()) throw new CliError(`${source}: the file is empty`);
  if (path.extname(source).toLowerCase() === '.json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new CliError(`${source}: not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new CliError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Reads a config file into a CRI message (`-` reads standard input). */
export async function loadSpecFile<T>(file: string, codec: MessageCodec<T>): Promise<T> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return specToMessage(codec, parseSpecText(text, file), file);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
