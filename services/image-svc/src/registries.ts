// Registry configuration: which hosts to contact for a reference, in order
// (mirrors first, then the origin), over HTTP or HTTPS, with which CA, and
// which registries a short name is searched on. Owner: image-svc.
import { InvalidArgumentError } from '@crius/common';
import { DOCKER_HUB, onRegistry, type ImageReference } from './reference.js';

export interface MirrorConfig {
  /** host[:port] of the mirror, e.g. `mirror.local:5000`. */
  host: string;
  /** Plain HTTP instead of HTTPS. Loopback hosts default to true. */
  insecure?: boolean;
  /** PEM CA bundle to trust for this mirror's TLS certificate. */
  caFile?: string;
}

export interface RegistryConfig {
  /** Registry as written in references (`docker.io`, `127.0.0.1:5000`). */
  host: string;
  /** Tried in order before the origin; a failing mirror falls through. */
  mirrors?: MirrorConfig[];
  insecure?: boolean;
  caFile?: string;
}

export interface RegistriesConfig {
  registries: RegistryConfig[];
  /** Registries searched, in order, for a short name such as `busybox`. */
  unqualifiedSearchRegistries: string[];
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

/** Checks a config read from the TOML file; messages name the offending key. */
export function validateRegistriesConfig(config: RegistriesConfig): RegistriesConfig {
  if (!Array.isArray(config.registries)) throw new InvalidArgumentError('registries: must be a list');
  if (!Array.isArray(config.unqualifiedSearchRegistries)) {
    throw new InvalidArgumentError('unqualifiedSearchRegistries: must be a list of registry hosts');
  }
  config.registries.forEach((registry, i) => {
    if (!validHost(registry.host)) throw new InvalidArgumentError(`registries[${i}].host: invalid host ${JSON.stringify(registry.host)}`);
    (registry.mirrors ?? []).forEach((mirror, j) => {
      if (!validHost(mirror.host)) {
        throw new InvalidArgumentError(`registries[${i}].mirrors[${j}].host: invalid host ${JSON.stringify(mirror.host)}`);
      }
    });
  });
  config.unqualifiedSearchRegistries.forEach((host, i) => {
    if (!validHost(host)) throw new InvalidArgumentError(`unqualifiedSearchRegistries[${i}]: invalid host ${JSON.stringify(host)}`);
  });
  return config;
}

function registryEntry(config: RegistriesConfig, domain: string): RegistryConfig | undefined {
  return config.registries.find((r) => r.host === domain);
}

function endpoint(host: string, insecure: boolean | undefined, caFile: string | undefined, mirror: boolean, registry: string): Endpoint {
  const plain = insecure ?? isLoopbackHost(host);
  return { host, baseUrl: `${plain ? 'http' : 'https'}://${host}`, caFile, mirror, registry };
}

/** Mirrors in configured order, then the origin registry. */
export function endpointsFor(config: RegistriesConfig, ref: ImageReference): Endpoint[] {
  const entry = registryEntry(config, ref.domain);
  const mirrors = (entry?.mirrors ?? []).map((m) => endpoint(m.host, m.insecure, m.caFile, true, ref.domain));
  const originHost = API_HOST[ref.domain] ?? ref.domain;
  return [...mirrors, endpoint(originHost, entry?.insecure, entry?.caFile, false, ref.domain)];
}

/**
 * The fully-qualified references a user's reference may mean: itself when it
 * names a registry, else one per unqualified-search registry, in order.
 */
export function candidatesFor(config: RegistriesConfig, ref: ImageReference): ImageReference[] {
  if (ref.qualified) return [ref];
  const search = config.unqualifiedSearchRegistries.length > 0 ? config.unqualifiedSearchRegistries : [DOCKER_HUB];
  // A short name parsed as docker.io carries `library/`; re-root the user's path.
  const userPath = ref.domain === DOCKER_HUB && ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
  return search.map((domain) => onRegistry({ ...ref, path: userPath }, domain));
}
