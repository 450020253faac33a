import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { loadRegistriesConf } from './registries-conf.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-regconf-'));
  file = join(dir, 'registries.conf');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function dropIn(name: string, text: string): Promise<void> {
  await mkdir(`${file}.d`, { recursive: true });
  await writeFile(join(`${file}.d`, name), text);
}

describe('loadRegistriesConf', () => {
  it('reads the v2 main file, then drop-ins in lexical order, each overriding what it sets', async () => {
    await writeFile(file, `
unqualified-search-registries = ["one.example"]
[[registry]]
prefix = "a.example/ns"
location = "a-internal.example/ns"
[[registry.mirror]]
location = "mirror.example/a"
pull-from-mirror = "digest-only"
[[registry]]
location = "b.example"
insecure = true
[aliases]
"app" = "a.example/ns/app"
"gone" = "b.example/gone"
`);
    await dropIn('20-later.conf', `
unqualified-search-registries = ["two.example", "three.example"]
[[registry]]
location = "b.example"
blocked = true
`);
    await dropIn('10-first.conf', '[aliases]\n"gone" = ""\n"tool" = "b.example/tools/tool"\n');
    await dropIn('ignored.txt', 'not = [toml');
    await mkdir(join(`${file}.d`, 'sub.conf'));
    const conf = await loadRegistriesConf(file);
    expect(conf.files).toEqual([file, join(`${file}.d`, '10-first.conf'), join(`${file}.d`, '20-later.conf')]);
    expect(conf.unqualifiedSearchRegistries).toEqual(['two.example', 'three.example']);
    expect(conf.aliases).toEqual({ app: 'a.example/ns/app', tool: 'b.example/tools/tool' });
    const b = conf.registries.find((r) => r.prefix === 'b.example')!;
    // The drop-in's entry replaces the main file's whole entry for that prefix.
    expect([b.blocked, b.insecure, b.source]).toEqual([true, undefined, join(`${file}.d`, '20-later.conf')]);
    const a = conf.registries.find((r) => r.prefix === 'a.example/ns')!;
    expect([a.location, a.mirrors]).toEqual(['a-internal.example/ns', [{ location: 'mirror.example/a', insecure: undefined, pullFromMirror: 'digest-only' }]]);
  });

  it('treats a missing default file as empty but still reads its drop-ins (shortnames.conf)', async () => {
    await dropIn('shortnames.conf', '[aliases]\n"alpine" = "docker.io/library/alpine"\n');
    const conf = await loadRegistriesConf(file);
    expect(conf.aliases).toEqual({ alpine: 'docker.io/library/alpine' });
    expect(conf.unqualifiedSearchRegistries).toBeUndefined();
    await expect(loadRegistriesConf(file, { required: true })).rejects.toThrow(new InvalidArgumentError(`registries config ${file}: file does not exist`));
  });

  it('converts the version 1 tables of the main file, refuses them in drop-ins', async () => {
    await writeFile(file, '[registries.search]\nregistries = ["s.example"]\n[registries.insecure]\nregistries = ["i.example"]\n[registries.block]\nregistries = ["x.example"]\n');
    const conf = await loadRegistriesConf(file);
    expect(conf.unqualifiedSearchRegistries).toEqual(['s.example']);
    expect(conf.registries.map((r) => [r.prefix, r.blocked ?? false, r.insecure ?? false])).toEqual([['i.example', false, true], ['x.example', true, false]]);
    await dropIn('v1.conf', '[registries.search]\nregistries = ["s.example"]\n');
    await expect(loadRegistriesConf(file)).rejects.toThrow(/v1\.conf: \[registries\] is the version 1 format/);
  });

  it('warns about keys it does not use and names the file and key of a bad value', async () => {
    const warnings: string[] = [];
    await writeFile(file, 'short-name-mode = "enforcing"\nnew-feature = 1\n[[registry]]\nlocation = "a.example"\nfuture = true\n');
    await loadRegistriesConf(file, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([
      `registries config ${file}: ignoring unknown key new-feature`,
      `registries config ${file}: ignoring unknown key [[registry]] #1 future`,
    ]);
    await writeFile(file, '[[registry]]\nlocation = "a.example"\ninsecure = "yes"\n');
    await expect(loadRegistriesConf(file)).rejects.toThrow(`registries config ${file}: [[registry]] #1 insecure must be true or false`);
    await writeFile(file, '[[registry]]\nprefix = "a.example"\n');
    await expect(loadRegistriesConf(file)).rejects.toThrow(/registries config .*registries\.conf: registries\[0\]\.location: location is unset/);
    await writeFile(file, '[aliases]\n"app" = "not qualified"\n');
    await expect(loadRegistriesConf(file)).rejects.toThrow(/aliases\."app": invalid value/);
    await writeFile(file, 'unqualified-search-registries = [\n');
    await expect(loadRegistriesConf(file)).rejects.toThrow(InvalidArgumentError);
  });
});
