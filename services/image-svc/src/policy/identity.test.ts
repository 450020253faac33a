import { describe, expect, it } from 'vitest';
import { parseReference } from '../reference.js';
import { dockerScopes, identityMatches, requirementsFor } from './identity.js';
import type { IdentityMatch, Policy } from './policy-file.js';

const digest = `sha256:${'d'.repeat(64)}`;

describe('docker transport scopes', () => {
  it('go from the full reference to the repository, namespaces, host and wildcard domains', () => {
    expect(dockerScopes(parseReference('reg.example.com:5000/ns/app:1'))).toEqual([
      'reg.example.com:5000/ns/app:1', 'reg.example.com:5000/ns/app', 'reg.example.com:5000/ns', 'reg.example.com:5000',
      '*.example.com', '*.com',
    ]);
    expect(dockerScopes(parseReference(`busybox:1@${digest}`))[0]).toBe(`docker.io/library/busybox@${digest}`);
  });

  it('pick the most specific scope, then the transport default, then the global default', () => {
    const rule = (n: number) => [{ type: 'unsupported' as const, rule: String(n), reason: '' }];
    const policy: Policy = {
      default: rule(0),
      transports: { docker: { '': rule(1), 'r.example': rule(2), 'r.example/ns': rule(3), 'r.example/ns/app:1': rule(4), '*.wild.example': rule(5) } },
    };
    const pick = (name: string) => requirementsFor(policy, parseReference(name));
    expect(pick('r.example/ns/app:1')).toMatchObject({ scope: 'r.example/ns/app:1' });
    expect(pick('r.example/ns/app:2')).toMatchObject({ scope: 'r.example/ns' });
    expect(pick('r.example/other:1')).toMatchObject({ scope: 'r.example' });
    expect(pick('a.b.wild.example/x:1')).toMatchObject({ scope: '*.wild.example' });
    expect(pick('elsewhere.example/x:1')).toMatchObject({ scope: '' });
    expect(requirementsFor({ default: rule(0), transports: {} }, parseReference('x.example/y'))).toEqual({ requirements: rule(0) });
  });
});

describe('signedIdentity', () => {
  const ok = (rule: IdentityMatch, image: string, claimed: string) => identityMatches(rule, parseReference(image), claimed);

  it('matchRepoDigestOrExact (the default): exact for a tag, same repository for a digest, never a bare repository', () => {
    const rule = { type: 'matchRepoDigestOrExact' } as const;
    expect(ok(rule, 'r.example/app:1', 'r.example/app:1')).toBe(true);
    expect(ok(rule, 'r.example/app:1', 'r.example/app:2')).toBe(false);
    expect(ok(rule, 'r.example/app:1', 'r.example/app')).toBe(false);
    expect(ok(rule, `r.example/app@${digest}`, 'r.example/app:7')).toBe(true);
    expect(ok(rule, `r.example/app@${digest}`, 'r.example/other:7')).toBe(false);
    expect(ok(rule, 'busybox:1', 'docker.io/library/busybox:1')).toBe(true);
    expect(ok(rule, 'r.example/app:1', 'not a reference')).toBe(false);
  });

  it('matchExact, matchRepository, exactReference, exactRepository, remapIdentity', () => {
    expect(ok({ type: 'matchExact' }, 'r.example/app:1', 'r.example/app:1')).toBe(true);
    expect(ok({ type: 'matchExact' }, `r.example/app@${digest}`, 'r.example/app:1')).toBe(false);
    expect(ok({ type: 'matchRepository' }, 'r.example/app:latest', 'r.example/app')).toBe(true);
    expect(ok({ type: 'matchRepository' }, 'r.example/app:latest', 'r.example/apps:1')).toBe(false);
    expect(ok({ type: 'exactReference', dockerReference: 'pub.example/app:1' }, 'mirror.example/app:1', 'pub.example/app:1')).toBe(true);
    expect(ok({ type: 'exactReference', dockerReference: 'pub.example/app:1' }, 'mirror.example/app:1', 'mirror.example/app:1')).toBe(false);
    expect(ok({ type: 'exactRepository', dockerRepository: 'pub.example/app' }, 'm.example/x:1', 'pub.example/app:9')).toBe(true);
    const remap = { type: 'remapIdentity', prefix: 'mirror.example/pub', signedPrefix: 'pub.example' } as const;
    expect(ok(remap, 'mirror.example/pub/app:1', 'pub.example/app:1')).toBe(true);
    expect(ok(remap, 'mirror.example/pub/app:1', 'mirror.example/pub/app:1')).toBe(false);
    expect(ok(remap, 'mirror.example/pubs/app:1', 'pub.examples/app:1')).toBe(false);
  });
});
