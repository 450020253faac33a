import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import {
  digestedName, familiarString, formatReference, manifestSelector, onRegistry, parseReference, taggedName, withDefaultTag,
} from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', undefined, undefined, false],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, false],
    ['docker.io/library/busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, true],
    ['index.docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined, true],
    ['user/app', 'docker.io', 'user/app', undefined, undefined, false],
    ['host:5000/ns/name:tag', 'host:5000', 'ns/name', 'tag', undefined, true],
    ['localhost/app', 'localhost', 'app', undefined, undefined, true],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000', 'busybox', undefined, undefined, true],
    [`name@${D}`, 'docker.io', 'library/name', undefined, D, false],
    [`quay.io/a/b:tag@${D}`, 'quay.io', 'a/b', 'tag', D, true],
    ['[::1]:5000/app:v1', '[::1]:5000', 'app', 'v1', undefined, true],
    ['a.b/c__d/e-f.g', 'a.b', 'c__d/e-f.g', undefined, undefined, true],
  ])('%s', (input, domain, path, tag, digest, qualified) => {
    expect(parseReference(input)).toEqual({ domain, path, tag, digest, qualified });
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['busybox:', 'malformed tag'],
    ['busybox:-x', 'malformed tag'],
    ['busybox@sha256:abc', 'malformed digest'],
    [`busybox@sha512:${'a'.repeat(128)}`, 'unsupported digest'],
    ['a'.repeat(64), 'image ID'],
    ['host:5000/', 'empty repository'],
    ['host/a//b', 'path component'],
    [' busybox', 'whitespace'],
    [`x.io/${'a'.repeat(260)}`, 'longer than'],
  ])('rejects %j naming the input', (input, reason) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).toContain(JSON.stringify(input));
    expect((caught as Error).message).toContain(reason);
  });
});

describe('string forms', () => {
  it('prints fully-qualified and familiar names', () => {
    const ref = withDefaultTag(parseReference('busybox'));
    expect(formatReference(ref)).toBe('docker.io/library/busybox:latest');
    expect(familiarString(ref)).toBe('busybox:latest');
    expect(taggedName(ref)).toBe('docker.io/library/busybox:latest');
    expect(digestedName(ref, D)).toBe(`docker.io/library/busybox@${D}`);
    expect(familiarString(parseReference('user/app:1'))).toBe('user/app:1');
    expect(familiarString(parseReference(`host:5000/a/b:1@${D}`))).toBe(`host:5000/a/b:1@${D}`);
    expect(familiarString(parseReference('docker.io/library/a/b'))).toBe('library/a/b');
  });

  it('keeps tag-or-digest semantics', () => {
    expect(withDefaultTag(parseReference(`x@${D}`)).tag).toBeUndefined();
    expect(manifestSelector(parseReference(`x:1@${D}`))).toBe(D);
    expect(manifestSelector(withDefaultTag(parseReference('x')))).toBe('latest');
    expect(taggedName(parseReference(`x@${D}`))).toBeUndefined();
  });

  it('re-roots a short name on another registry', () => {
    const ref = parseReference('app:1');
    expect(formatReference(onRegistry({ ...ref, path: 'app' }, 'quay.io'))).toBe('quay.io/app:1');
    expect(formatReference(onRegistry({ ...ref, path: 'app' }, 'docker.io'))).toBe('docker.io/library/app:1');
  });
});
