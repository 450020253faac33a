// Reads deploy/systemd units for the deploy tests: a tiny parser of the
// systemd INI dialect (sections, repeated keys, comments) and the paths of
// the units. Owner: deploy/ (issue 10).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const UNIT_DIR = path.join(REPO, 'deploy/systemd');

/** Service name → unit; 'nats' and 'gateway' included. */
export const SERVICE_UNITS = {
  nats: 'crius-nats.service',
  gateway: 'crius-gateway.service',
  image: 'crius-image.service',
  storage: 'crius-storage.service',
  runtime: 'crius-runtime.service',
  network: 'crius-network.service',
  monitor: 'crius-monitor.service',
} as const;
export type UnitService = keyof typeof SERVICE_UNITS;
export const ALL_UNITS = [...Object.values(SERVICE_UNITS), 'crius.target'];

export type Unit = Record<string, Record<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    ((unit[section] ??= {})[key] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

export function readUnit(name: string): Unit {
  return parseUnit(readFileSync(path.join(UNIT_DIR, name), 'utf8'));
}

/** All values of a key, space-separated lists flattened ("After=a b" + "After=c" → [a, b, c]). */
export function words(unit: Unit, section: string, key: string): string[] {
  return (unit[section]?.[key] ?? []).flatMap((v) => v.split(/\s+/).filter(Boolean));
}

/** The last assignment of a key (systemd's rule for single-valued settings). */
export function value(unit: Unit, section: string, key: string): string | undefined {
  return unit[section]?.[key]?.at(-1);
}
