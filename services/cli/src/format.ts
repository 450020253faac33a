// Output helpers shared by every `crius` command: aligned tables, relative
// ages, truncated ids, sizes, and machine output (stable JSON with bigints as
// strings, YAML from the same value). Pure functions, unit-tested.
import { stringify as yamlStringify } from 'yaml';
import { UsageError } from './command.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

/** Validates `-o`; commands pass their default. */
export function outputFormat(value: unknown, fallback: OutputFormat): OutputFormat {
  if (value === undefined) return fallback;
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  throw new UsageError(`-o ${JSON.stringify(value)}: expected json, yaml or table`);
}

/** Columns separated by three spaces, padded to the widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** Human duration in the style of `docker ps` ("2 minutes", "About an hour"). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return plural(s, 'second');
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return plural(m, 'minute');
  const h = Math.round(m / 60);
  if (h === 1) return 'About an hour';
  if (h < 48) return plural(h, 'hour');
  const d = Math.floor(h / 24);
  if (d < 14) return plural(d, 'day');
  if (d < 7 * 8) return plural(Math.floor(d / 7), 'week');
  if (d < 365 * 2) return plural(Math.floor(d / 30), 'month');
  return plural(Math.floor(d / 365), 'year');
}

/** "2 minutes ago" from CRI nanoseconds since the epoch; "-" when unset. */
export function age(nanos: bigint, now = Date.now()): string {
  if (nanos <= 0n) return '-';
  const ms = Number(nanos / 1_000_000n);
  return `${humanDuration(Math.max(0, now - ms))} ago`;
}

export function nanosToIso(nanos: bigint): string {
  return nanos > 0n ? new Date(Number(nanos / 1_000_000n)).toISOString() : '';
}

export const SHORT_ID = 13;

/** Short id as tables show it; image ids lose their "sha256:" prefix. */
export function truncId(id: string, noTrunc = false): string {
  const bare = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  if (noTrunc) return id;
  return bare.slice(0, SHORT_ID);
}

/** Decimal size with three significant digits: 757kB, 4.46MB. */
export function humanSize(bytes: bigint | number): string {
  let v = Number(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}

/** Plain JSON value: bigints as strings, bytes as base64, object keys sorted, undefined dropped. */
export function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = toPlain(v);
    }
    return out;
  }
  return value;
}

/** Stable, indented JSON (same input, same bytes). */
export function toJson(value: unknown): string {
  return JSON.stringify(toPlain(value), null, 2);
}

export function toYaml(value: unknown): string {
  return yamlStringify(toPlain(value)).trimEnd();
}

/** Machine output of a value, or undefined for `table` (the caller prints its own). */
export function machineOutput(value: unknown, format: OutputFormat): string | undefined {
  if (format === 'json') return toJson(value);
  if (format === 'yaml') return toYaml(value);
  return undefined;
}

/** The verbose `info` map of a CRI status reply: values that are JSON are decoded. */
export function decodeInfo(info: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** `k=v` label flags to a map; a flag without "=" is a usage error. */
export function parseLabels(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`--label ${JSON.stringify(f)}: expected key=value`);
    out[f.slice(0, i)] = f.slice(i + 1);
  }
  return out;
}

/** Newest first, then `--latest` / `--last N`. */
export function newestFirst<T extends { createdAt: bigint }>(items: T[], opts: { latest?: boolean; last?: string }): T[] {
  const sorted = [...items].sort((a, b) => (a.createdAt === b.createdAt ? 0 : a.createdAt > b.createdAt ? -1 : 1));
  if (opts.latest) return sorted.slice(0, 1);
  if (opts.last !== undefined) {
    const n = Number(opts.last);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--last ${JSON.stringify(opts.last)}: expected a count`);
    return sorted.slice(0, n);
  }
  return sorted;
}
