// Registry authentication: CRI AuthConfig, WWW-Authenticate challenges,
// basic auth and the bearer-token flow (anonymous or with credentials) with a
// token cache honouring expires_in. Secrets never enter messages. Owner: image-svc.
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '@crius/common';
import { HttpPool, discard, readLimited, toUnavailable } from './http.js';

/** CRI runtime.v1 AuthConfig, field for field. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64("username:password") */
  auth?: string;
  serverAddress?: string;
  /** OAuth2 refresh token, exchanged at the token endpoint. */
  identityToken?: string;
  /** Bearer token sent to the registry as is. */
  registryToken?: string;
}

export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity'; token: string }
  | { kind: 'registry'; token: string };

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_RESPONSE_LIMIT = 1 << 20;
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Renew this long before expiry so a token doesn't die in flight. */
const EXPIRY_MARGIN_MS = 5_000;

/** Picks the credentials an AuthConfig carries; undefined means anonymous. */
export function credentialsFrom(auth: AuthConfig | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.registryToken) return { kind: 'registry', token: auth.registryToken };
  if (auth.identityToken) return { kind: 'identity', token: auth.identityToken };
  if (auth.username) return { kind: 'basic', username: auth.username, password: auth.password ?? '' };
  if (auth.auth) return decodeBasic(auth.auth);
  return undefined;
}

function decodeBasic(encoded: string): Credentials {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // Never echo the value: it is a password.
  if (colon <= 0) throw new InvalidArgumentError('auth config: field "auth" is not base64 of "username:password"');
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Stable, non-reversible key for caches keyed by who is asking. */
function credentialKey(creds: Credentials | undefined): string {
  if (!creds) return 'anonymous';
  const secret = creds.kind === 'basic' ? `${creds.username}\0${creds.password}` : creds.token;
  return createHash('sha256').update(`${creds.kind}\0${secret}`).digest('hex');
}

/** Parses a WWW-Authenticate header value into its challenges (RFC 7235). */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: string) => {
    while (i < header.length && chars.includes(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && !' \t,='.includes(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(' \t,');
    const name = token();
    if (!name) break;
    skip(' \t');
    if (header[i] === '=' && challenges.length > 0) {
      i++;
      skip(' \t');
      challenges[challenges.length - 1]!.params[name.toLowerCase()] = readParamValue();
    } else {
      challenges.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return challenges;

  function readParamValue(): string {
    if (header[i] !== '"') {
      const start = i;
      while (i < header.length && header[i] !== ',') i++;
      return header.slice(start, i).trim();
    }
    let value = '';
    for (i++; i < header.length && header[i] !== '"'; i++) {
      if (header[i] === '\\' && i + 1 < header.length) i++;
      value += header[i];
    }
    i++;
    return value;
  }
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Bearer tokens by realm, service, scope and (hashed) credentials. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): string | undefined {
    const cached = this.tokens.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt - EXPIRY_MARGIN_MS <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return cached.header;
  }

  set(key: string, header: string, lifetimeS: number, issuedAt?: number): void {
    const start = issuedAt !== undefined && Number.isFinite(issuedAt) ? Math.min(issuedAt, this.now()) : this.now();
    this.tokens.set(key, { header, expiresAt: start + lifetimeS * 1000 });
  }

  get size(): number {
    return this.tokens.size;
  }
}

/** What a token endpoint answers (Docker token spec / OAuth2). */
export function tokenFromResponse(json: unknown, realm: string): { token: string; expiresIn: number; issuedAt?: number } {
  const body = (json ?? {}) as Record<string, unknown>;
  const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
  if (typeof token !== 'string' || token.length === 0) {
    throw new FailedPreconditionError(`token endpoint ${realm} returned no token`);
  }
  const expires = Number(body.expires_in);
  const expiresIn = Number.isFinite(expires) && expires > 0 ? expires : DEFAULT_TOKEN_LIFETIME_S;
  const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
  return { token, expiresIn, issuedAt: Number.isNaN(issued) ? undefined : issued };
}

/**
 * Answers registry challenges for one registry's credentials. It remembers
 * the last challenge per host so later requests authenticate up front.
 */
export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly credKey: string;

  constructor(
    private readonly credentials: Credentials | undefined,
    private readonly http: HttpPool,
    private readonly tokens: TokenCache,
  ) {
    this.credKey = credentialKey(credentials);
  }

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  /** Authorization header for a request to `host`, if one is known without asking. */
  async headerFor(host: string, scope: string): Promise<string | undefined> {
    const challenge = this.challenges.get(host);
    if (!challenge) return this.credentials?.kind === 'registry' ? `Bearer ${this.credentials.token}` : undefined;
    if (challenge.scheme === 'basic') return this.basic();
    return this.tokens.get(this.tokenKey(challenge, scope)) ?? this.fetchToken(challenge, scope);
  }

  /**
   * Handles a 401: records the challenge and returns the header to retry
   * with. `rejected` is the header the 401 answered; it is not offered again.
   */
  async answer(host: string, wwwAuthenticate: string | undefined, scope: string, what: string, rejected?: string): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) {
      throw new FailedPreconditionError(`${what}: registry ${host} answered 401 without a usable WWW-Authenticate challenge`);
    }
    this.challenges.set(host, challenge);
    if (challenge.scheme === 'basic') {
      const header = this.basic();
      if (!header) throw new FailedPreconditionError(`${what}: registry ${host} requires credentials (basic auth) and none were given`);
      return header;
    }
    const cached = this.tokens.get(this.tokenKey(challenge, scope));
    return cached && cached !== rejected ? cached : this.fetchToken(challenge, scope);
  }

  private basic(): string | undefined {
    const c = this.credentials;
    return c?.kind === 'basic' ? basicHeader(c.username, c.password) : undefined;
  }

  private tokenKey(challenge: Challenge, scope: string): string {
    return [challenge.params.realm, challenge.params.service ?? '', scope, this.credKey].join('\n');
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm || !/^https?:\/\//.test(realm)) {
      throw new FailedPreconditionError(`bearer challenge has no usable realm (${JSON.stringify(realm ?? '')})`);
    }
    if (this.credentials?.kind === 'registry') return `Bearer ${this.credentials.token}`;
    const json = await this.requestToken(realm, challenge.params.service, scope);
    const { token, expiresIn, issuedAt } = tokenFromResponse(json, realm);
    const header = `Bearer ${token}`;
    this.tokens.set(this.tokenKey(challenge, scope), header, expiresIn, issuedAt);
    return header;
  }

  private async requestToken(realm: string, service: string | undefined, scope: string): Promise<unknown> {
    const creds = this.credentials;
    const url = new URL(realm);
    const host = url.host;
    const what = `token request to ${url.origin}${url.pathname}`;
    const opts = creds?.kind === 'identity' ? oauthRequest(creds.token, service, scope) : getRequest(url, service, scope, creds);
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, { ...opts, dispatcher: this.http.dispatcher() });
    } catch (err) {
      throw toUnavailable(err, what, host);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await discard(res.body);
      throw new FailedPreconditionError(`${what}: credentials rejected (HTTP ${res.statusCode})`);
    }
    if (res.statusCode >= 500 || res.statusCode === 429) {
      await discard(res.body);
      throw new UnavailableError(`${what}: HTTP ${res.statusCode}`);
    }
    if (res.statusCode !== 200) {
      await discard(res.body);
      throw new FailedPreconditionError(`${what}: HTTP ${res.statusCode}`);
    }
    const bytes = await readLimited(res.body, TOKEN_RESPONSE_LIMIT, what, res.headers['content-length']);
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new FailedPreconditionError(`${what}: response is not JSON`, { cause: err });
    }
  }
}

function getRequest(url: URL, service: string | undefined, scope: string, creds: Credentials | undefined) {
  if (service) url.searchParams.set('service', service);
  if (scope) url.searchParams.set('scope', scope);
  const headers: Record<string, string> = {};
  if (creds?.kind === 'basic') headers.authorization = basicHeader(creds.username, creds.password);
  return { method: 'GET' as const, headers };
}

function oauthRequest(refreshToken: string, service: string | undefined, scope: string) {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'crius' });
  if (service) form.set('service', service);
  if (scope) form.set('scope', scope);
  return { method: 'POST' as const, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
}

/** The pull scope for a repository path, as the token spec spells it. */
export function pullScope(repositoryPath: string): string {
  return `repository:${repositoryPath}:pull`;
}
