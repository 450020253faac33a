// Registry configuration: which endpoints to contact for a reference, in order
// (mirrors first, then the origin), over HTTP or HTTPS, with which CA; which
// registries a short name is searched on, short-name aliases, blocked names and
// location rewrites, with the matching rules of containers-registries.conf(5).
// Owner: image-svc.
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { DOCKER_HUB, formatReference, onRegistry, parseReference, type ImageReference } from './reference.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';
export const PULL_FROM_MIRROR: readonly PullFromMirror[] = ['all', 'digest-only', 'tag-only'];

export interface MirrorConfig {
  /** host[:port][/namespace…] serving the entry's names under this path (registries.conf `location`). */
  location?: string;
  /** Shorthand for a mirror serving the same paths on host[:port], e.g. `mirror.local:5000`. */
  host?: string;
  /** Plain HTTP instead of HTTPS. Loopback hosts default to true. */
  insecure?: boolean;
  /** PEM CA bundle to trust for this mirror's TLS certificate. */
  caFile?: string;
  /** Use the mirror for pulls by digest only, by tag only, or both (default). */
  pullFromMirror?: PullFromMirror;
}

export interface RegistryConfig {
  /**
   * Names the entry applies to: host[:port][/namespace…][/repo[:tag|@digest]] or `*.domain`.
   * Defaults to `location` (or `host`).
   */
  prefix?: string;
  /** Where names under `prefix` really live: the matched prefix is rewritten to it. Empty only for a wildcard prefix. */
  location?: string;
  /** Shorthand for prefix = location = host[:port]. */
  host?: string;
  /** Tried in order before the location; a failing mirror falls through. */
  mirrors?: MirrorConfig[];
  insecure?: boolean;
  caFile?: string;
  /** Pulls of matching names are refused. */
  blocked?: boolean;
  /** Mirrors only for pulls by digest (registries.conf `mirror-by-digest-only`). */
  mirrorByDigestOnly?: boolean;
  /** The file the entry came from, for messages. */
  source?: string;
}

/** TLS settings of one host, wherever it is contacted (origin, mirror or rewritten location). */
export interface HostSettings {
  insecure?: boolean;
  caFile?: string;
}

export interface RegistriesConfig {
  registries: RegistryConfig[];
  /** Registries searched, in order, for a short name such as `busybox`. */
  unqualifiedSearchRegistries: string[];
  /** Short name (`busybox`, `ns/app`) → fully-qualified repository, without tag or digest. */
  aliases?: Record<string, string>;
  /** By host[:port]. */
  hosts?: Record<string, HostSettings>;
}

export interface Endpoint {
  /** host[:port] actually contacted. */
  host: string;
  /** `http://host` or `https://host`, no trailing slash. */
  baseUrl: string;
  caFile?: string;
  /** True for a mirror, false for the origin registry. */
  mirror: boolean;
  /** The registry the reference names (the origin), for messages and auth. */
  registry: string;
  /** Repository path at this endpoint (after any location rewrite). */
  repository: string;
  /** `domain/path` this endpoint serves the image as (`docker.io/library/busybox`): how auth files key credentials. */
  location: string;
}

export const DEFAULT_REGISTRIES: RegistriesConfig = {
  registries: [],
  unqualifiedSearchRegistries: [DOCKER_HUB],
};

/** Docker Hub's API lives on another host than its name. */
const API_HOST: Record<string, string> = { [DOCKER_HUB]: 'registry-1.docker.io' };

/** Loopback registries speak plain HTTP unless configured otherwise. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = stripPort(hostPort).toLowerCase();
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

function stripPort(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(0, hostPort.indexOf(']') + 1);
  const colon = hostPort.lastIndexOf(':');
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

function validHost(host: unknown): host is string {
  return typeof host === 'string' && /^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/.test(host);
}

/** host[:port] alone, or a name under it (`host/ns/repo[:tag|@digest]`), not normalised. */
function validName(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return validHost(name);
  if (!validHost(name.slice(0, slash))) return false;
  try {
    return parseReference(name).qualified;
  } catch {
    return false;
  }
}

function validPrefix(prefix: string): boolean {
  return /^\*\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/.test(prefix) || validName(prefix);
}

function bad(key: string, why: string): never {
  throw new InvalidArgumentError(`${key}: ${why}`);
}

function normaliseMirror(mirror: MirrorConfig, key: string, byDigestOnly: boolean): MirrorConfig {
  const location = (mirror.location ?? mirror.host ?? '').replace(/\/+$/, '');
  if (!validName(location)) bad(`${key}.location`, `invalid mirror location ${JSON.stringify(mirror.location ?? mirror.host)}`);
  if (mirror.pullFromMirror !== undefined && !PULL_FROM_MIRROR.includes(mirror.pullFromMirror)) {
    bad(`${key}.pull-from-mirror`, `must be one of ${PULL_FROM_MIRROR.join(', ')}, got ${JSON.stringify(mirror.pullFromMirror)}`);
  }
  if (byDigestOnly && mirror.pullFromMirror) bad(`${key}.pull-from-mirror`, 'cannot be set when the registry sets mirror-by-digest-only');
  return { ...mirror, location };
}

function normaliseRegistry(registry: RegistryConfig, key: string): RegistryConfig {
  const location = (registry.location ?? registry.host ?? '').replace(/\/+$/, '');
  const prefix = (registry.prefix ?? (location || registry.host) ?? '').replace(/\/+$/, '');
  if (!prefix) bad(key, 'needs a prefix or a location');
  if (!validPrefix(prefix)) bad(`${key}.prefix`, `invalid prefix ${JSON.stringify(registry.prefix ?? registry.host)}`);
  if (!location && !prefix.startsWith('*.')) bad(`${key}.location`, `location is unset and prefix ${JSON.stringify(prefix)} is not of the form *.example.com`);
  if (location && !validName(location)) bad(`${key}.location`, `invalid location ${JSON.stringify(location)}`);
  const byDigestOnly = registry.mirrorByDigestOnly ?? false;
  const mirrors = (registry.mirrors ?? []).map((m, j) => normaliseMirror(m, `${key}.mirrors[${j}]`, byDigestOnly));
  return { ...registry, prefix, location, mirrors };
}

/** Checks and normalises a registries config (prefix and location filled in); messages name the offending key. */
export function validateRegistriesConfig(config: RegistriesConfig): RegistriesConfig {
  if (!Array.isArray(config.registries)) bad('registries', 'must be a list');
  if (!Array.isArray(config.unqualifiedSearchRegistries)) bad('unqualifiedSearchRegistries', 'must be a list of registry hosts');
  const registries = config.registries.map((r, i) => normaliseRegistry(r, `registries[${i}]`));
  config.unqualifiedSearchRegistries.forEach((host, i) => {
    if (!validHost(host)) bad(`unqualifiedSearchRegistries[${i}]`, `invalid host ${JSON.stringify(host)}`);
  });
  for (const [name, value] of Object.entries(config.aliases ?? {})) validateAlias(name, value);
  for (const host of Object.keys(config.hosts ?? {})) if (!validHost(host)) bad(`hosts`, `invalid host ${JSON.stringify(host)}`);
  return { ...config, registries };
}

/** An alias maps a short name to a fully-qualified repository; neither side carries a tag or digest. */
export function validateAlias(name: string, value: string): void {
  const key = `aliases.${JSON.stringify(name)}`;
  let short: ImageReference;
  try {
    short = parseReference(name);
  } catch {
    bad(key, 'the name must be a short name');
  }
  if (short.qualified || name.startsWith('localhost/')) bad(key, 'the name must be a short name, without a registry');
  if (short.tag || short.digest) bad(key, 'the name must not have a tag or digest');
  let target: ImageReference;
  try {
    target = parseReference(value);
  } catch (err) {
    bad(key, `invalid value: ${(err as Error).message}`);
  }
  if (!target.qualified) bad(key, `the value ${JSON.stringify(value)} must be fully qualified (registry/repository)`);
  if (target.tag || target.digest) bad(key, `the value ${JSON.stringify(value)} must not have a tag or digest`);
}

/**
 * Length of `prefix` matched at the start of the name `ref` (`host/repo[:tag][@digest]`),
 * or -1. A prefix matches whole components: `example.com/foo` matches
 * `example.com/foo`, `example.com/foo/bar`, `example.com/foo:1`, not `example.com/foobar`;
 * a host prefix does not match the same host with a port. `*.example.com` matches any
 * subdomain (of any depth) and returns the length of the matched host.
 */
export function matchPrefix(ref: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const host = ref.split('/')[0]!;
    const bare = stripPort(host);
    return bare.endsWith(prefix.slice(1)) && bare.length > prefix.length - 1 ? bare.length : -1;
  }
  if (!ref.startsWith(prefix)) return -1;
  if (ref.length === prefix.length) return prefix.length;
  const next = ref[prefix.length]!;
  if (next === '/' || next === '@') return prefix.length;
  // After a host, ':' starts a port, so `example.com` is not `example.com:5000`.
  return next === ':' && prefix.includes('/') ? prefix.length : -1;
}

/** The entry with the longest matching prefix (the first of equals), as registries.conf chooses. */
export function findRegistry(config: RegistriesConfig, ref: ImageReference): RegistryConfig | undefined {
  const name = formatReference(ref);
  let best: RegistryConfig | undefined;
  for (const entry of config.registries) {
    const prefix = entry.prefix ?? entry.host ?? '';
    if (matchPrefix(name, prefix) < 0) continue;
    if (!best || prefix.length > (best.prefix ?? best.host ?? '').length) best = entry;
  }
  return best;
}

/** The reference with the entry's prefix replaced by `location` (unchanged when location is empty). */
function rewrite(ref: ImageReference, prefix: string, location: string, what: string): ImageReference {
  if (!location || location === prefix) return ref;
  const name = formatReference(ref);
  const rewritten = location + name.slice(matchPrefix(name, prefix));
  try {
    const parsed = parseReference(rewritten);
    if (parsed.qualified) return parsed;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(`${what}: ${JSON.stringify(name)} rewritten by prefix ${JSON.stringify(prefix)} to ${JSON.stringify(rewritten)} is not a valid reference`);
}

function endpoint(
  config: RegistriesConfig, at: ImageReference, own: HostSettings, mirror: boolean, registry: string,
): Endpoint {
  const host = API_HOST[at.domain] ?? at.domain;
  const shared = config.hosts?.[host] ?? config.hosts?.[at.domain];
  const plain = own.insecure ?? shared?.insecure ?? isLoopbackHost(host);
  const caFile = own.caFile ?? shared?.caFile;
  return {
    host, baseUrl: `${plain ? 'http' : 'https'}://${host}`, caFile, mirror, registry,
    repository: at.path, location: `${at.domain}/${at.path}`,
  };
}

function mirrorApplies(entry: RegistryConfig, mirror: MirrorConfig, byDigest: boolean): boolean {
  if (entry.mirrorByDigestOnly) return byDigest;
  if (mirror.pullFromMirror === 'digest-only') return byDigest;
  if (mirror.pullFromMirror === 'tag-only') return !byDigest;
  return true;
}

/**
 * Mirrors in configured order (those whose pull-from-mirror admits this reference),
 * then the (possibly rewritten) location. A blocked name is refused.
 */
export function endpointsFor(config: RegistriesConfig, ref: ImageReference, what = `pull ${formatReference(ref)}`): Endpoint[] {
  const entry = findRegistry(config, ref);
  if (!entry) return [endpoint(config, ref, {}, false, ref.domain)];
  const prefix = entry.prefix ?? entry.host!;
  const source = entry.source ? ` in ${entry.source}` : '';
  if (entry.blocked) throw new FailedPreconditionError(`${what}: registry prefix ${JSON.stringify(prefix)} is blocked${source}`);
  const byDigest = ref.digest !== undefined;
  const mirrors = (entry.mirrors ?? [])
    .filter((m) => mirrorApplies(entry, m, byDigest))
    .map((m) => endpoint(config, rewrite(ref, prefix, m.location ?? m.host ?? '', `${what}: mirror${source}`), m, true, ref.domain));
  const origin = endpoint(config, rewrite(ref, prefix, entry.location ?? entry.host ?? '', `${what}: location${source}`), entry, false, ref.domain);
  return [...mirrors, origin];
}

/** The short name as the user wrote it (`busybox`, `ns/app`), without the `library/` docker.io adds. */
function shortName(ref: ImageReference): string {
  return ref.domain === DOCKER_HUB && ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
}

/**
 * The fully-qualified references a user's reference may mean: itself when it
 * names a registry; the alias target when the short name has one (no search);
 * else one per unqualified-search registry, in order.
 */
export function candidatesFor(config: RegistriesConfig, ref: ImageReference): ImageReference[] {
  if (ref.qualified) return [ref];
  const userPath = shortName(ref);
  const alias = config.aliases?.[userPath];
  if (alias) {
    const target = parseReference(alias);
    return [{ ...target, tag: ref.tag, digest: ref.digest, qualified: true }];
  }
  const search = config.unqualifiedSearchRegistries.length > 0 ? config.unqualifiedSearchRegistries : [DOCKER_HUB];
  return search.map((domain) => onRegistry({ ...ref, path: userPath }, domain));
}
