import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '@crius/common';
import { loadRegistriesConf } from './registries-conf.js';
import { mergeRegistries, registriesFromConfig } from './registries-config.js';
import { candidatesFor, endpointsFor } from './registries.js';
import { formatReference, parseReference } from './reference.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-regcfg-'));
  file = join(dir, 'registries.conf');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('crius.toml over registries.conf', () => {
  const table = (t: Record<string, { mirrors?: string[]; insecure?: boolean; ca_file?: string }>) =>
    Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { mirrors: v.mirrors ?? [], insecure: v.insecure ?? false, ca_file: v.ca_file ?? '' }]));

  it('replaces the search list when set and the mirrors of the same prefix, keeping its other settings', async () => {
    await writeFile(file, `
unqualified-search-registries = ["conf.example"]
[[registry]]
prefix = "r.example"
location = "r-internal.example"
[[registry.mirror]]
location = "conf-mirror.example"
[[registry]]
location = "r.example/deeper"
`);
    const conf = await loadRegistriesConf(file);
    const merged = mergeRegistries(conf, table({ 'r.example': { mirrors: ['crius-mirror.example'] }, 'crius-mirror.example': { ca_file: '/ca.pem' } }), ['toml.example']);
    expect(merged.unqualifiedSearchRegistries).toEqual(['toml.example']);
    const eps = endpointsFor(merged, parseReference('r.example/app:1'));
    expect(eps.map((e) => [e.host, e.caFile, e.repository])).toEqual([['crius-mirror.example', '/ca.pem', 'app'], ['r-internal.example', undefined, 'app']]);
    // A longer registries.conf prefix still wins for names under it.
    expect(endpointsFor(merged, parseReference('r.example/deeper/app:1')).map((e) => e.host)).toEqual(['r.example']);
    expect(mergeRegistries(conf, {}, []).unqualifiedSearchRegistries).toEqual(['conf.example']);
  });

  it('reads registries_conf named in crius.toml; empty reads none; another path must exist', async () => {
    await writeFile(file, '[aliases]\n"app" = "a.example/app"\n');
    const cfg = parseConfig(`[image]\nregistries_conf = "${file}"\n`);
    const regs = await registriesFromConfig(cfg);
    expect(candidatesFor(regs, parseReference('app')).map(formatReference)).toEqual(['a.example/app']);
    const none = await registriesFromConfig(parseConfig('[image]\nregistries_conf = ""\n'));
    expect(candidatesFor(none, parseReference('app:1')).map(formatReference)).toEqual(['docker.io/library/app:1']);
    await expect(registriesFromConfig(parseConfig(`[image]\nregistries_conf = "${dir}/missing.conf"\n`))).rejects.toThrow(/file does not exist/);
  });
});
