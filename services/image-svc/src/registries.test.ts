import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { parseReference } from './reference.js';
import { DEFAULT_REGISTRIES, candidatesFor, endpointsFor, isLoopbackHost, validateRegistriesConfig } from './registries.js';

describe('endpointsFor', () => {
  it('uses https on registry-1.docker.io for Docker Hub', () => {
    const eps = endpointsFor(DEFAULT_REGISTRIES, parseReference('busybox'));
    expect(eps).toEqual([{ host: 'registry-1.docker.io', baseUrl: 'https://registry-1.docker.io', caFile: undefined, mirror: false, registry: 'docker.io' }]);
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
      .toThrow(new InvalidArgumentError('registries[0].mirrors[0].host: invalid host "bad host"'));
    expect(() => validateRegistriesConfig({ registries: [], unqualifiedSearchRegistries: ['http://x'] })).toThrow(/unqualifiedSearchRegistries\[0\]/);
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('10.0.0.1:5000')).toBe(false);
    expect(isLoopbackHost('localhost.example')).toBe(false);
  });
});
