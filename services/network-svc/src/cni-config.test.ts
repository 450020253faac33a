import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@crius/common';
import { CniConfigLoader, loadNetworkConfig, parseNetworkConfig, type LoadResult } from './cni-config.js';

const list = { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] };

describe('parseNetworkConfig', () => {
  it('wraps a single-plugin .conf into a list, keeping plugin keys', () => {
    const conf = { cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'br9', ipam: { type: 'host-local' } };
    expect(parseNetworkConfig('/d/10.conf', JSON.stringify(conf))).toEqual({
      cniVersion: '0.4.0',
      name: 'single',
      plugins: [{ type: 'bridge', bridge: 'br9', ipam: { type: 'host-local' } }],
    });
  });

  it('accepts a list from .conflist and from .json with "plugins"', () => {
    expect(parseNetworkConfig('/d/a.conflist', JSON.stringify(list))).toEqual(list);
    expect(parseNetworkConfig('/d/a.json', JSON.stringify({ ...list, disableCheck: 'true' })).disableCheck).toBe(true);
  });

  it.each([
    ['/d/x.conflist', '{nope', /CNI config \/d\/x\.conflist: invalid JSON/],
    ['/d/x.conflist', '[]', /x\.conflist: top level must be a JSON object/],
    ['/d/x.conflist', JSON.stringify({ ...list, cniVersion: undefined }), /key "cniVersion": must be a non-empty string/],
    ['/d/x.conflist', JSON.stringify({ ...list, cniVersion: '0.2.0' }), /key "cniVersion": unsupported version "0.2.0"/],
    ['/d/x.conflist', JSON.stringify({ ...list, name: '-bad name' }), /key "name"/],
    ['/d/x.conflist', JSON.stringify({ ...list, plugins: [] }), /key "plugins": must be a non-empty array/],
    ['/d/x.conflist', JSON.stringify({ ...list, plugins: [{ type: 'bridge' }, { bridge: 'x' }] }), /x\.conflist: key "plugins\[1\]\.type"/],
    ['/d/x.conflist', JSON.stringify({ ...list, plugins: [{ type: '../../bin/sh' }] }), /key "plugins\[0\]\.type"/],
    ['/d/x.conflist', JSON.stringify({ ...list, plugins: [{ type: 'p', capabilities: { portMappings: 'yes' } }] }), /key "plugins\[0\]\.capabilities\.portMappings": must be a boolean/],
    ['/d/x.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'n' }), /x\.conf: key "type"/],
    ['/d/x.conflist', JSON.stringify({ ...list, disableCheck: 3 }), /key "disableCheck": must be a boolean/],
  ])('rejects %s %s naming file and key', (file, text, re) => {
    let err: unknown;
    try {
      parseNetworkConfig(file, text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(re);
  });
});

describe('loadNetworkConfig / CniConfigLoader', () => {
  const dirs: string[] = [];
  const temp = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'crius-cniconf-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('takes the first valid file by name, skipping invalid ones and other extensions', async () => {
    const d = await temp();
    await writeFile(join(d, '05-broken.conflist'), '{');
    await writeFile(join(d, '10-b.conflist'), JSON.stringify({ ...list, name: 'b' }));
    await writeFile(join(d, '20-a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: 'bridge' }));
    await writeFile(join(d, '01-ignored.txt'), JSON.stringify({ ...list, name: 'txt' }));
    const res = await loadNetworkConfig([d]);
    expect(res.status).toEqual({ ready: true, network: 'b' });
    expect(res.network?.file).toBe(join(d, '10-b.conflist'));
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]).toContain('05-broken.conflist');
  });

  it('reports not ready with a message naming dirs and broken files', async () => {
    const d = await temp();
    const missing = join(d, 'nope');
    expect((await loadNetworkConfig([missing])).status).toEqual({
      ready: false,
      reason: 'NetworkPluginNotReady',
      message: `cni config uninitialized: no network config found in ${missing}`,
    });
    await writeFile(join(d, '10.conflist'), '{"cniVersion":"1.0.0"}');
    const st = (await loadNetworkConfig([d])).status;
    expect(st.ready).toBe(false);
    expect(st.message).toMatch(/no valid network config in .*10\.conflist: key "name"/);
  });

  it('notices a conf dir that appears later and files that change, via the watcher', async () => {
    const parent = await temp();
    const d = join(parent, 'net.d');
    const seen: LoadResult[] = [];
    const loader = new CniConfigLoader([d], (r) => seen.push(r));
    try {
      expect((await loader.reload()).status.ready).toBe(false);
      loader.watch();
      await mkdir(d);
      await writeFile(join(d, '10.conflist'), JSON.stringify(list));
      await expect.poll(() => seen.at(-1)?.status, { timeout: 5000 }).toEqual({ ready: true, network: 'net1' });
      await unlink(join(d, '10.conflist'));
      await expect.poll(() => seen.at(-1)?.status.ready, { timeout: 5000 }).toBe(false);
      // The dir itself removed and created again: the watcher follows.
      await rm(d, { recursive: true });
      await mkdir(d);
      await writeFile(join(d, '10.conflist'), JSON.stringify({ ...list, name: 'again' }));
      await expect.poll(() => seen.at(-1)?.status.network, { timeout: 5000 }).toBe('again');
    } finally {
      loader.close();
    }
  });

  it('re-reads on demand when nothing valid was loaded, without a watcher', async () => {
    const d = await temp();
    const loader = new CniConfigLoader([d]);
    expect((await loader.get()).status.ready).toBe(false);
    await writeFile(join(d, '10.conflist'), JSON.stringify(list));
    expect((await loader.get()).status).toEqual({ ready: true, network: 'net1' });
  });
});
