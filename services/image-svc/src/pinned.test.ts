import { describe, expect, it } from 'vitest';
import { parseConfig } from '@crius/common';
import { PinnedImages } from './pinned.js';
import { pinnedFromConfig } from './service.js';

const image = (...names: string[]) => ({
  repoTags: names.filter((n) => !n.includes('@')),
  repoDigests: names.filter((n) => n.includes('@')),
});
const digest = `sha256:${'c'.repeat(64)}`;

describe('pinned_images patterns (CRI-O: exact, glob at the end, keyword)', () => {
  it('matches exact names whole, normalised as the kubelet names images', () => {
    const p = new PinnedImages(['registry.k8s.io/pause:3.10', 'busybox', `quay.io/app@${digest}`]);
    expect(p.matches(image('registry.k8s.io/pause:3.10'))).toBe(true);
    expect(p.matches(image('registry.k8s.io/pause:3.1'))).toBe(false);
    expect(p.matches(image('registry.k8s.io/pause:3.10-rc'))).toBe(false);
    expect(p.matches(image('docker.io/library/busybox:latest'))).toBe(true);
    expect(p.matches(image('docker.io/library/busybox:1.36'))).toBe(false);
    expect(p.matches(image('quay.io/other:1', `quay.io/app@${digest}`))).toBe(true);
  });

  it('matches a trailing glob as a prefix and a keyword anywhere, ignoring case', () => {
    const p = new PinnedImages(['quay.io/crio/*', '*Fedora*']);
    expect(p.matches(image('quay.io/crio/pause:latest'))).toBe(true);
    expect(p.matches(image('quay.io/crio2/pause:latest'))).toBe(false);
    expect(p.matches(image('mirror.example/quay.io/crio/pause:1'))).toBe(false);
    expect(p.matches(image('registry.fedoraproject.org/fedora:40'))).toBe(true);
    expect(p.matches(image('docker.io/library/alpine:3'))).toBe(false);
    expect(new PinnedImages([]).matches(image('anything.example/x:1'))).toBe(false);
  });

  it('refuses patterns that cannot mean what they say, in the config key', () => {
    for (const bad of ['*', '**', 'quay.io/*/pause', '*pause']) {
      expect(() => parseConfig(`[image]\npinned_images = ["${bad}"]\n`)).toThrow(/image\.pinned_images/);
    }
  });

  it('pins the sandbox image unless it is empty', () => {
    expect(pinnedFromConfig(parseConfig('[image]\npinned_images = ["a.example/*"]\n'))).toEqual(['a.example/*', 'registry.k8s.io/pause:3.10']);
    expect(pinnedFromConfig(parseConfig('[image]\npause_image = ""\n'))).toEqual([]);
  });
});
