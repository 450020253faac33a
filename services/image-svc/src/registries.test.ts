import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { formatReference, parseReference } from './reference.js';
import {
  DEFAULT_REGISTRIES, candidatesFor, endpointsFor, findRegistry, isLoopbackHost, matchPrefix, validateRegistriesConfig,
  type RegistriesConfig, type RegistryConfig,
} from './registries.js';

describe('endpointsFor', () => {
  it('uses https on registry-1.docker.io for Docker Hub', () => {
    const eps = endpointsFor(DEFAULT_REGISTRIES, parseReference('busybox'));
    expect(eps).toEqual([{
      host: 'registry-1.docker.io', baseUrl: 'https://registry-1.docker.io', caFile: undefined, mirror: false, registry: 'docker.io',
      repository: 'library/busybox', location: 'docker.io/library/busybox',
    }]);
  });

  it('speaks plain HTTP to loopback registries by default', () => {
    for (const host of ['127.0.0.1:5000', 'localhost:5000', 'localhost', '[::1]:5000', '127.1.2.3']) {
      expect(endpointsFor(DEFAULT_REGISTRIES, parseReference(`${host}/app`))[0]!.baseUrl).toBe(`http://${host}`);
    }
    expect(endpointsFor(DEFAULT_REGISTRIES, parseReference('reg.example:5000/app'))[0]!.baseUrl).toBe('https://reg.example:5000');
  });

  it('lists mirrors in order before the origin, with their own TLS settings', () => {
    const config = validateRegistriesConfig({
      unqualifiedSearchRegistries: ['docker.io'],
      registries: [
        { host: 'reg.example', insecure: true, mirrors: [{ host: 'm1.example', caFile: '/ca.pem' }, { host: '127.0.0.1:6000' }] },
      ],
    });
    const eps = endpointsFor(config, parseReference('reg.example/a/b:1'));
    expect(eps.map((e) => [e.baseUrl, e.mirror, e.caFile, e.registry])).toEqual([
      ['https://m1.example', true, '/ca.pem', 'reg.example'],
      ['http://127.0.0.1:6000', true, undefined, 'reg.example'],
      ['http://reg.example', false, undefined, 'reg.example'],
    ]);
  });

  it('lets config force TLS on a loopback host', () => {
    const config = { unqualifiedSearchRegistries: [], registries: [{ host: 'localhost:5000', insecure: false, caFile: '/ca' }] };
    expect(endpointsFor(config, parseReference('localhost:5000/a'))[0]!.baseUrl).toBe('https://localhost:5000');
  });
});

describe('candidatesFor', () => {
  it('searches short names on each unqualified-search registry in order', () => {
    const config = { registries: [], unqualifiedSearchRegistries: ['127.0.0.1:5000', 'docker.io'] };
    const names = candidatesFor(config, parseReference('busybox:1')).map((r) => `${r.domain}/${r.path}:${r.tag}`);
    expect(names).toEqual(['127.0.0.1:5000/busybox:1', 'docker.io/library/busybox:1']);
  });

  it('leaves qualified names alone', () => {
    const config = { registries: [], unqualifiedSearchRegistries: ['quay.io'] };
    expect(candidatesFor(config, parseReference('docker.io/busybox')).map((r) => r.path)).toEqual(['library/busybox']);
  });
});

describe('validateRegistriesConfig', () => {
  it('names the bad key', () => {
    expect(() => validateRegistriesConfig({ registries: [{ host: 'ok', mirrors: [{ host: 'bad host' }] }], unqualifiedSearchRegistries: [] }))
      .toThrow(new InvalidArgumentError('registries[0].mirrors[0].location: invalid mirror location "bad host"'));
    expect(() => validateRegistriesConfig({ registries: [], unqualifiedSearchRegistries: ['http://x'] })).toThrow(/unqualifiedSearchRegistries\[0\]/);
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('10.0.0.1:5000')).toBe(false);
    expect(isLoopbackHost('localhost.example')).toBe(false);
  });
});

describe('registries.conf matching (containers-registries.conf(5))', () => {
  const conf = (registries: RegistryConfig[], extra: Partial<RegistriesConfig> = {}) =>
    validateRegistriesConfig({ registries, unqualifiedSearchRegistries: [], ...extra });
  const hosts = (c: RegistriesConfig, name: string) => endpointsFor(c, parseReference(name)).map((e) => `${e.host}/${e.repository}`);

  it('matches prefixes by whole components, longest first', () => {
    expect(matchPrefix('example.com/foo/app:1', 'example.com/foo')).toBe('example.com/foo'.length);
    expect(matchPrefix('example.com/foo:1', 'example.com/foo')).toBe('example.com/foo'.length);
    expect(matchPrefix('example.com/foo@sha256:' + 'a'.repeat(64), 'example.com/foo')).toBe('example.com/foo'.length);
    expect(matchPrefix('example.com/foobar/app', 'example.com/foo')).toBe(-1);
    expect(matchPrefix('example.com:5000/app', 'example.com')).toBe(-1);
    expect(matchPrefix('a.b.example.com:5000/app', '*.example.com')).toBe('a.b.example.com'.length);
    expect(matchPrefix('example.com/app', '*.example.com')).toBe(-1);
    expect(matchPrefix('evilexample.com/app', '*.example.com')).toBe(-1);
    const c = conf([
      { prefix: 'reg.example', location: 'reg.example', mirrors: [{ location: 'host-mirror.example' }] },
      { prefix: 'reg.example/team', location: 'team.example/mirrored/team' },
    ]);
    expect(findRegistry(c, parseReference('reg.example/team/app:1'))?.prefix).toBe('reg.example/team');
    expect(hosts(c, 'reg.example/team/app:1')).toEqual(['team.example/mirrored/team/app']);
    expect(hosts(c, 'reg.example/other/app:1')).toEqual(['host-mirror.example/other/app', 'reg.example/other/app']);
  });

  it('rewrites the matched prefix to the location, for the origin and each mirror', () => {
    const c = conf([{
      prefix: 'example.com/foo', location: 'internal.example.net/bar',
      mirrors: [{ location: 'mirror-0.local/mirror-for-foo' }, { location: 'mirror-1.local:5000/mirrors/foo', insecure: true }],
    }]);
    const eps = endpointsFor(c, parseReference('example.com/foo/myimage:latest'));
    expect(eps.map((e) => [e.baseUrl, e.repository, e.location, e.mirror, e.registry])).toEqual([
      ['https://mirror-0.local', 'mirror-for-foo/myimage', 'mirror-0.local/mirror-for-foo/myimage', true, 'example.com'],
      ['http://mirror-1.local:5000', 'mirrors/foo/myimage', 'mirror-1.local:5000/mirrors/foo/myimage', true, 'example.com'],
      ['https://internal.example.net', 'bar/myimage', 'internal.example.net/bar/myimage', false, 'example.com'],
    ]);
  });

  it('needs docker.io/library in the prefix for official images, as the man page says', () => {
    const c = conf([{ prefix: 'docker.io/alpine', location: 'wrong.example/alpine' }, { prefix: 'docker.io/library/alpine', location: 'hub.local/alpine' }]);
    expect(hosts(c, 'alpine:3')).toEqual(['hub.local/alpine']);
    expect(hosts(c, 'docker.io/alpine/git:1')).toEqual(['wrong.example/alpine/git']);
  });

  it('applies a wildcard entry without rewriting', () => {
    const c = conf([{ prefix: '*.internal.example', blocked: false, insecure: true, mirrors: [{ location: 'cache.example' }] }]);
    expect(endpointsFor(c, parseReference('a.b.internal.example/app:1')).map((e) => e.baseUrl + '/' + e.repository))
      .toEqual(['https://cache.example/app', 'http://a.b.internal.example/app']);
  });

  it('refuses a blocked name, naming the prefix and the file', () => {
    const c = conf([{ prefix: 'bad.example/ns', location: 'bad.example/ns', blocked: true, source: '/etc/containers/registries.conf' }]);
    expect(() => endpointsFor(c, parseReference('bad.example/ns/app:1'), 'pull bad.example/ns/app:1')).toThrow(
      new FailedPreconditionError('pull bad.example/ns/app:1: registry prefix "bad.example/ns" is blocked in /etc/containers/registries.conf'),
    );
    expect(hosts(c, 'bad.example/other:1')).toEqual(['bad.example/other']);
  });

  it('uses mirrors by pull-from-mirror and mirror-by-digest-only', () => {
    const digest = `@sha256:${'b'.repeat(64)}`;
    const c = conf([
      { prefix: 'r.example', location: 'r.example', mirrors: [{ location: 'all.m' }, { location: 'digest.m', pullFromMirror: 'digest-only' }, { location: 'tag.m', pullFromMirror: 'tag-only' }] },
      { prefix: 'd.example', location: 'd.example', mirrorByDigestOnly: true, mirrors: [{ location: 'only.m' }] },
    ]);
    expect(hosts(c, 'r.example/app:1').map((h) => h.split('/')[0])).toEqual(['all.m', 'tag.m', 'r.example']);
    expect(hosts(c, `r.example/app${digest}`).map((h) => h.split('/')[0])).toEqual(['all.m', 'digest.m', 'r.example']);
    expect(hosts(c, 'd.example/app:1')).toEqual(['d.example/app']);
    expect(hosts(c, `d.example/app${digest}`)).toEqual(['only.m/app', 'd.example/app']);
    expect(() => conf([{ prefix: 'x.example', location: 'x.example', mirrorByDigestOnly: true, mirrors: [{ location: 'm', pullFromMirror: 'tag-only' }] }]))
      .toThrow(/mirror-by-digest-only/);
  });

  it('takes TLS settings of a host wherever it is contacted', () => {
    const c = conf([{ prefix: 'o.example', location: 'o.example', mirrors: [{ location: 'm.example:5000' }] }], {
      hosts: { 'm.example:5000': { caFile: '/m-ca.pem' }, 'o.example': { insecure: true } },
    });
    expect(endpointsFor(c, parseReference('o.example/app')).map((e) => [e.baseUrl, e.caFile])).toEqual([
      ['https://m.example:5000', '/m-ca.pem'], ['http://o.example', undefined],
    ]);
  });

  it('resolves a short-name alias instead of searching, keeping the tag', () => {
    const c = conf([], { unqualifiedSearchRegistries: ['search.example'], aliases: { app: 'aliased.example/team/app', 'ns/tool': 'quay.io/ns/tool' } });
    expect(candidatesFor(c, parseReference('app:2')).map(formatReference)).toEqual(['aliased.example/team/app:2']);
    expect(candidatesFor(c, parseReference('ns/tool')).map(formatReference)).toEqual(['quay.io/ns/tool']);
    expect(candidatesFor(c, parseReference('other:1')).map(formatReference)).toEqual(['search.example/other:1']);
    expect(() => conf([], { aliases: { 'host.example/app': 'quay.io/app' } })).toThrow(/short name/);
    expect(() => conf([], { aliases: { app: 'quay.io/app:1' } })).toThrow(/tag or digest/);
    expect(() => conf([], { aliases: { app: 'app2' } })).toThrow(/fully qualified/);
  });

  it('refuses entries without a usable prefix or location', () => {
    expect(() => conf([{ prefix: 'example.com/foo' }])).toThrow(/location is unset/);
    expect(() => conf([{ prefix: 'http://x', location: 'x' }])).toThrow(/invalid prefix/);
    expect(() => conf([{ location: 'example.com', mirrors: [{ location: 'm', pullFromMirror: 'sometimes' as 'all' }] }])).toThrow(/pull-from-mirror/);
  });
});
