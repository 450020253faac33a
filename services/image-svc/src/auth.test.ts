import { afterEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { startServer, type LoopbackServer } from '../../../test/fixtures/http-server.js';
import { Authorizer, TokenCache, credentialsFrom, parseChallenges, pullScope, tokenFromResponse } from './auth.js';
import { HttpPool } from './http.js';

describe('parseChallenges', () => {
  it('parses a Docker Hub bearer challenge', () => {
    const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
    expect(parseChallenges(h)).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('parses several challenges, unquoted values and escapes', () => {
    expect(parseChallenges('Basic realm="a \\"q\\" b", Bearer realm=https://x/t,service=s')).toEqual([
      { scheme: 'basic', params: { realm: 'a "q" b' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', service: 's' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('credentialsFrom', () => {
  it('reads CRI AuthConfig fields in precedence order', () => {
    expect(credentialsFrom(undefined)).toBeUndefined();
    expect(credentialsFrom({})).toBeUndefined();
    expect(credentialsFrom({ username: 'u', password: 'p' })).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    const auth = Buffer.from('alice:s3:cret').toString('base64');
    expect(credentialsFrom({ auth })).toEqual({ kind: 'basic', username: 'alice', password: 's3:cret' });
    expect(credentialsFrom({ identityToken: 'it', username: 'u' })).toEqual({ kind: 'identity', token: 'it' });
    expect(credentialsFrom({ registryToken: 'rt' })).toEqual({ kind: 'registry', token: 'rt' });
  });

  it('rejects a malformed auth field without echoing it', () => {
    const secret = Buffer.from('nocolonhere').toString('base64');
    expect(() => credentialsFrom({ auth: secret })).toThrow(InvalidArgumentError);
    try {
      credentialsFrom({ auth: secret });
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
      expect((err as Error).message).not.toContain('nocolonhere');
    }
  });
});

describe('TokenCache', () => {
  it('expires tokens by expires_in with a safety margin', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set('k', 'Bearer t', 60);
    expect(cache.get('k')).toBe('Bearer t');
    now += 54_000;
    expect(cache.get('k')).toBe('Bearer t');
    now += 2_000;
    expect(cache.get('k')).toBeUndefined();
  });

  it('reads token responses', () => {
    expect(tokenFromResponse({ token: 't', expires_in: 300 }, 'r')).toEqual({ token: 't', expiresIn: 300, issuedAt: undefined });
    expect(tokenFromResponse({ access_token: 'a' }, 'r').expiresIn).toBe(60);
    expect(() => tokenFromResponse({}, 'https://realm')).toThrow(/https:\/\/realm returned no token/);
  });
});

describe('Authorizer against a loopback token server', () => {
  let server: LoopbackServer | undefined;
  const http = new HttpPool();
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('fetches an anonymous token once and reuses it while valid', async () => {
    server = await startServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ token: 'anon-token', expires_in: 300 }));
    });
    const tokens = new TokenCache();
    const a = new Authorizer(undefined, http, tokens);
    const challenge = `Bearer realm="${server.url}/token",service="reg"`;
    const scope = pullScope('library/busybox');
    expect(await a.answer('reg:5000', challenge, scope, 'test')).toBe('Bearer anon-token');
    expect(await a.headerFor('reg:5000', scope)).toBe('Bearer anon-token');
    const b = new Authorizer(undefined, http, tokens);
    expect(await b.answer('reg:5000', challenge, scope, 'test')).toBe('Bearer anon-token');
    expect(server.requests).toHaveLength(1);
    const url = new URL(server.requests[0]!.url, server.url);
    expect(url.searchParams.get('service')).toBe('reg');
    expect(url.searchParams.get('scope')).toBe('repository:library/busybox:pull');
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('sends basic credentials to the token endpoint and reports rejection without secrets', async () => {
    server = await startServer((req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from('bob:pw').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? JSON.stringify({ access_token: 'bob-token' }) : '{}');
    });
    const challenge = `Bearer realm="${server.url}/token",service="reg"`;
    const good = new Authorizer({ kind: 'basic', username: 'bob', password: 'pw' }, http, new TokenCache());
    expect(await good.answer('h', challenge, 's', 'test')).toBe('Bearer bob-token');
    const bad = new Authorizer({ kind: 'basic', username: 'bob', password: 'wrong-secret' }, http, new TokenCache());
    const err = await bad.answer('h', challenge, 's', 'pull x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toMatch(/credentials rejected \(HTTP 401\)/);
    expect((err as Error).message).not.toContain('wrong-secret');
  });

  it('answers basic challenges with credentials and fails clearly without', async () => {
    const withCreds = new Authorizer({ kind: 'basic', username: 'u', password: 'p' }, http, new TokenCache());
    expect(await withCreds.answer('h:1', 'Basic realm="r"', 's', 'x')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await withCreds.headerFor('h:1', 's')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const anonymous = new Authorizer(undefined, http, new TokenCache());
    await expect(anonymous.answer('h:1', 'Basic realm="r"', 's', 'pull h:1/a')).rejects.toThrow(
      'pull h:1/a: registry h:1 requires credentials (basic auth) and none were given',
    );
    await expect(anonymous.answer('h:1', undefined, 's', 'pull')).rejects.toThrow(/without a usable WWW-Authenticate/);
  });
});
