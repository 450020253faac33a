// Finds where a reference can be pulled from: each candidate name (alias or
// short-name search) on each endpoint (mirrors, then origin or its rewritten
// location), first manifest wins; the failure, when all fail, names every
// registry tried. Credentials: the kubelet's where they apply, else the global
// auth file's for that endpoint. Owner: image-svc.
import { CriusError, NotFoundError, UnavailableError } from '@crius/common';
import { Authorizer, TokenCache, credentialsFrom, type AuthConfig } from './auth.js';
import type { AuthTable } from './auth-file.js';
import { HttpPool, type RetryOptions } from './http.js';
import { manifestSelector, type ImageReference } from './reference.js';
import { candidatesFor, endpointsFor, type Endpoint, type RegistriesConfig } from './registries.js';
import { RegistryClient, type FetchedManifest } from './registry-client.js';

export interface ResolverOptions {
  registries: RegistriesConfig;
  http: HttpPool;
  tokens: TokenCache;
  retry?: RetryOptions;
  manifestLimit?: number;
  configLimit?: number;
  /** Global credentials (auth.json), read when an endpoint has no kubelet credentials. */
  authFile?: () => Promise<AuthTable>;
}

export interface Resolved {
  /** The fully-qualified name that was found. */
  ref: ImageReference;
  client: RegistryClient;
  manifest: FetchedManifest;
}

/** `https://index.docker.io/v1/` → `docker.io`; `host:5000/` → `host:5000`. */
export function normaliseServerAddress(address: string): string {
  const host = address.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** CRI gives one AuthConfig per pull; it applies where its serverAddress points (anywhere if unset). */
export function authFor(auth: AuthConfig | undefined, endpoint: Endpoint): AuthConfig | undefined {
  if (!auth?.serverAddress) return auth;
  const server = normaliseServerAddress(auth.serverAddress);
  return server === endpoint.registry || server === endpoint.host ? auth : undefined;
}

export class Resolver {
  constructor(private readonly options: ResolverOptions) {}

  client(endpoint: Endpoint, label: string, auth?: AuthConfig, global?: AuthTable): RegistryClient {
    const { http, tokens, retry, manifestLimit, configLimit } = this.options;
    const credentials = credentialsFrom(authFor(auth, endpoint)) ?? credentialsFrom(global?.lookup(endpoint.location));
    const authorizer = new Authorizer(credentials, http, tokens);
    return new RegistryClient(endpoint, endpoint.repository, label, { http, authorizer, retry, manifestLimit, configLimit });
  }

  /** Tries every candidate × endpoint in order; throws the most telling failure. */
  async resolve(ref: ImageReference, label: string, auth?: AuthConfig): Promise<Resolved> {
    const failures: { endpoint: Pick<Endpoint, 'host'>; err: unknown }[] = [];
    let global: AuthTable | undefined;
    for (const candidate of candidatesFor(this.options.registries, ref)) {
      let endpoints: Endpoint[];
      try {
        endpoints = endpointsFor(this.options.registries, candidate, label);
      } catch (err) {
        if (!(err instanceof CriusError)) throw err;
        failures.push({ endpoint: { host: candidate.domain }, err }); // blocked
        continue;
      }
      for (const endpoint of endpoints) {
        if (!credentialsFrom(authFor(auth, endpoint)) && this.options.authFile) global ??= await this.options.authFile();
        const client = this.client(endpoint, label, auth, global);
        try {
          const manifest = await client.getManifest(manifestSelector(candidate));
          return { ref: candidate, client, manifest };
        } catch (err) {
          if (!(err instanceof CriusError)) throw err;
          failures.push({ endpoint, err });
        }
      }
    }
    throw summarise(label, failures);
  }
}

/**
 * Unreachable beats not-found (the unreachable one may have it); a real
 * refusal (auth, bad digest) beats both; all not-found is NotFound.
 */
function summarise(label: string, failures: { endpoint: Pick<Endpoint, 'host'>; err: unknown }[]): Error {
  const refusal = failures.find((f) => !(f.err instanceof NotFoundError) && !(f.err instanceof UnavailableError));
  if (refusal) return refusal.err as Error;
  const unreachable = failures.filter((f) => f.err instanceof UnavailableError);
  if (unreachable.length > 0) {
    const hosts = unreachable.map((f) => f.endpoint.host).join(', ');
    const only = unreachable.length === 1 ? (unreachable[0]!.err as Error) : undefined;
    return new UnavailableError(
      only ? only.message : `${label}: no registry reachable (${hosts}): ${unreachable.map((f) => (f.err as Error).message).join('; ')}`,
      { cause: only ?? unreachable[0]?.err },
    );
  }
  if (failures.length === 1) return failures[0]!.err as Error;
  const tried = failures.map((f) => f.endpoint.host).join(', ');
  return new NotFoundError(`${label}: image not found (tried ${tried})`, { cause: failures[0]?.err });
}
