// The configuration reference (docs/configuration.md), generated from the
// schema so the docs cannot drift from the defaults and checks in code.
import { SCHEMA, type Field, type Section } from './schema.js';

function show(v: Field['default']): string {
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function fieldRows(fields: Record<string, Field>): string[] {
  return Object.entries(fields).map(([key, f]) => {
    const limits = [f.enum ? `one of ${f.enum.map((e) => `\`${e}\``).join(', ')}` : '', f.min !== undefined ? `≥ ${f.min}` : '', f.max !== undefined ? `≤ ${f.max}` : '']
      .filter(Boolean)
      .join('; ');
    return `| \`${key}\` | ${f.type} | \`${show(f.default)}\` | ${f.doc}${limits ? ` (${limits})` : ''} |`;
  });
}

export function configReference(): string {
  const out = [
    '# crius.toml reference',
    '',
    '<!-- Generated from services/common/src/config/schema.ts by `npm run docs`; do not edit. -->',
    '',
    'crius reads `/etc/crius/crius.toml` (or the file named by `--config` or `$CRIUS_CONFIG`).',
    'Every key is optional; unknown keys are refused with a hint, and each error names the key.',
    '`crius config` prints the effective configuration.',
    '',
  ];
  for (const [name, section] of Object.entries(SCHEMA) as [string, Section][]) {
    out.push(`## [${name}]`, '', section.doc, '', '| key | type | default | meaning |', '|---|---|---|---|', ...fieldRows(section.fields), '');
    for (const [tname, table] of Object.entries(section.tables ?? {})) {
      out.push(`### [${name}.${tname}.<name>]`, '', table.doc, '');
      const defaults = Object.keys(table.defaults);
      if (defaults.length) out.push(`Built in: ${defaults.map((d) => `\`${d}\``).join(', ')} (each key may be overridden).`, '');
      out.push('| key | type | default | meaning |', '|---|---|---|---|', ...fieldRows(table.fields), '');
    }
  }
  return out.join('\n');
}
