// The effective registry configuration of image-svc: registries.conf (and its
// drop-ins) first, crius.toml's [image] keys over it. Precedence, from low to high:
//   1. registries.conf, then registries.conf.d/*.conf in lexical order;
//   2. [image] unqualified_search_registries, when not empty, replaces the search list;
//   3. [image.registries.<host>]: `mirrors` (when not empty) replace the mirrors of the
//      [[registry]] whose prefix is exactly <host> (an entry is added when none is),
//      `insecure = true` makes that entry plain HTTP; `insecure` and `ca_file` also apply to
//      every endpoint on <host> (a mirror, a rewritten location), TLS being per host.
// With no search list anywhere, short names are searched on docker.io. Owner: image-svc.
import type { CriusConfig } from '@crius/common';
import { DEFAULT_REGISTRIES_CONF, loadRegistriesConf, type RegistriesConf } from './registries-conf.js';
import { validateRegistriesConfig, type HostSettings, type RegistriesConfig, type RegistryConfig } from './registries.js';

type RegistryTable = CriusConfig['image']['registries'];

/** registries.conf content with crius.toml's overrides applied (see the precedence above). */
export function mergeRegistries(conf: RegistriesConf | undefined, table: RegistryTable, search: string[]): RegistriesConfig {
  const registries: RegistryConfig[] = (conf?.registries ?? []).map((r) => ({ ...r }));
  const hosts: Record<string, HostSettings> = {};
  for (const [host, r] of Object.entries(table)) {
    hosts[host] = { insecure: r.insecure || undefined, caFile: r.ca_file || undefined };
    let entry = registries.find((e) => e.prefix === host);
    if (!entry) registries.push((entry = { prefix: host, location: host, source: 'crius.toml' }));
    if (r.mirrors.length > 0) entry.mirrors = r.mirrors.map((m) => ({ location: m }));
    if (r.insecure) entry.insecure = true;
  }
  return validateRegistriesConfig({
    registries,
    unqualifiedSearchRegistries: search.length > 0 ? search : (conf?.unqualifiedSearchRegistries ?? []),
    aliases: conf?.aliases ?? {},
    hosts,
  });
}

/** Reads the registries.conf named by [image] registries_conf (none when empty) and merges crius.toml over it. */
export async function registriesFromConfig(cfg: CriusConfig, onWarning?: (message: string) => void): Promise<RegistriesConfig> {
  const file = cfg.image.registries_conf;
  const conf = file ? await loadRegistriesConf(file, { required: file !== DEFAULT_REGISTRIES_CONF, onWarning }) : undefined;
  return mergeRegistries(conf, cfg.image.registries, cfg.image.unqualified_search_registries);
}
