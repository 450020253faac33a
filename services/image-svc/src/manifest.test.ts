import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, NotFoundError } from '@crius/common';
import { MediaType, parseImageConfig, parseManifest, selectPlatform, type ImageIndex } from './manifest.js';
import { parsePlatform, platformFor, platformString } from './platform.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d('a'), size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: d('b'), size: 20 }],
  annotations: { 'org.opencontainers.image.ref.name': '1' },
};

function index(platforms: string[]): ImageIndex {
  return {
    kind: 'index',
    mediaType: MediaType.OciIndex,
    annotations: {},
    manifests: platforms.map((p, i) => ({ mediaType: MediaType.OciManifest, digest: d(String(i)), size: 1, platform: parsePlatform(p) })),
  };
}

describe('parseManifest', () => {
  it('parses an OCI manifest', () => {
    const m = parseManifest(json(manifest), undefined, 'ref');
    expect(m).toEqual({ kind: 'manifest', mediaType: MediaType.OciManifest, config: manifest.config, layers: manifest.layers, annotations: manifest.annotations });
  });

  it('parses a Docker manifest list by Content-Type when the body has no mediaType', () => {
    const list = { schemaVersion: 2, manifests: [{ mediaType: MediaType.DockerManifest, digest: d('c'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }] };
    const m = parseManifest(json(list), `${MediaType.DockerManifestList}; charset=utf-8`, 'ref');
    expect(m.kind).toBe('index');
    expect(m.mediaType).toBe(MediaType.DockerManifestList);
  });

  it.each([
    [{ ...manifest, schemaVersion: 1 }, /schemaVersion 1 is not 2/],
    [{ schemaVersion: 2, mediaType: MediaType.DockerSchema1Signed }, /schema 1 manifests are not supported/],
    [{ ...manifest, config: { ...manifest.config, digest: 'sha256:zz' } }, /config.digest: invalid digest/],
    [{ ...manifest, layers: [{ ...manifest.layers[0], size: -1 }] }, /layers\[0\].size must be a non-negative integer/],
    [{ ...manifest, layers: [{ ...manifest.layers[0], mediaType: 'text/plain' }] }, /layers\[0\] has unsupported media type text\/plain/],
    [{ ...manifest, config: { ...manifest.config, mediaType: 'application/x' } }, /not an image config/],
    [{ ...manifest, annotations: { a: 1 } }, /annotations must map strings to strings/],
  ])('rejects bad documents with a reason (%#)', (doc, reason) => {
    expect(() => parseManifest(json(doc), undefined, 'pull x from registry r')).toThrow(reason);
    expect(() => parseManifest(json(doc), undefined, 'pull x from registry r')).toThrow(FailedPreconditionError);
  });

  it('rejects non-JSON naming the context', () => {
    expect(() => parseManifest(Buffer.from('<html>'), 'text/html', 'pull x from registry r')).toThrow('pull x from registry r: not valid JSON');
  });
});

describe('parseImageConfig', () => {
  const config = {
    os: 'linux', architecture: 'amd64',
    config: { User: '1000', Env: ['A=1'], Cmd: ['sh'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT', Labels: { l: 'v' } },
    rootfs: { type: 'layers', diff_ids: [d('e')] },
  };
  it('extracts the runtime fields and diff IDs', () => {
    const c = parseImageConfig(json(config), 1, 'cfg');
    expect(c.config.User).toBe('1000');
    expect(c.config.Cmd).toEqual(['sh']);
    expect(c.config.Entrypoint).toBeUndefined();
    expect(c.diffIds).toEqual([d('e')]);
    expect(c.raw.os).toBe('linux');
  });
  it('checks diff_ids against the manifest layer count', () => {
    expect(() => parseImageConfig(json(config), 2, 'cfg')).toThrow('cfg: invalid document: config lists 1 diff_ids but the manifest has 2 layers');
    expect(() => parseImageConfig(json({ ...config, config: { Env: 'A=1' } }), 1, 'cfg')).toThrow(/config.Env must be a list of strings/);
  });
});

describe('selectPlatform', () => {
  it('picks the exact os/arch/variant', () => {
    const idx = index(['linux/arm/v6', 'linux/arm/v7', 'linux/amd64', 'linux/arm64/v8']);
    expect(selectPlatform(idx, parsePlatform('linux/amd64'), 'x').digest).toBe(d('2'));
    expect(selectPlatform(idx, parsePlatform('linux/arm/v7'), 'x').digest).toBe(d('1'));
    expect(selectPlatform(idx, parsePlatform('linux/arm64'), 'x').digest).toBe(d('3'));
  });

  it('treats arm64 without variant as v8 and lets ARMv7 run v6', () => {
    expect(selectPlatform(index(['linux/arm64']), parsePlatform('linux/arm64/v8'), 'x').digest).toBe(d('0'));
    expect(selectPlatform(index(['linux/arm/v6']), parsePlatform('linux/arm/v7'), 'x').digest).toBe(d('0'));
    expect(() => selectPlatform(index(['linux/arm/v7']), parsePlatform('linux/arm/v6'), 'x')).toThrow(NotFoundError);
  });

  it('lists available platforms when none matches', () => {
    const idx = index(['linux/arm64/v8', 'linux/s390x']);
    idx.manifests.push({ mediaType: MediaType.OciManifest, digest: d('f'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } });
    expect(() => selectPlatform(idx, parsePlatform('linux/amd64'), 'pull r:1 from registry h')).toThrow(
      'pull r:1 from registry h: no image for platform linux/amd64; available: linux/arm64/v8, linux/s390x, unknown/unknown',
    );
  });
});

describe('platformFor', () => {
  it('maps node arch names to OCI names', () => {
    expect(platformFor('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(platformFor('arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(platformFor('arm', '6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(platformFor('ia32').architecture).toBe('386');
    expect(platformString(platformFor('ppc64'))).toBe('linux/ppc64le');
    expect(() => parsePlatform('linux')).toThrow(/os\/arch/);
  });
});
