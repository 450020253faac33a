import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniCache } from './cni-cache.js';

const base = {
  network: 'net1',
  containerId: 'sb1',
  ifName: 'eth0',
  netnsPath: '/run/crius/netns/sb1',
  config: { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'bridge' }] },
  cniArgs: [['IgnoreUnknown', '1']] as Array<[string, string]>,
  capabilityArgs: {},
};

describe('CniCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crius-cnicache-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('records intent, then the result, durably and readable by a new instance', async () => {
    await new CniCache(dir).put({ ...base, state: 'adding' });
    expect((await new CniCache(dir).list('sb1')).records.map((r) => r.state)).toEqual(['adding']);
    await new CniCache(dir).put({ ...base, state: 'added', result: { cniVersion: '1.0.0', ips: [] } });
    const again = new CniCache(dir);
    const { records, corrupt } = await again.list('sb1');
    expect(corrupt).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ version: 1, state: 'added', network: 'net1', result: { cniVersion: '1.0.0', ips: [] } });
    // Atomic writes leave no temp files behind.
    expect(await readdir(join(dir, 'results', 'sb1'))).toEqual(['net1_eth0.json']);
    expect(await again.containerIds()).toEqual(['sb1']);
  });

  it('removes a record and its container dir; reports unreadable files', async () => {
    const cache = new CniCache(dir);
    await cache.put({ ...base, state: 'added', result: {} });
    await writeFile(join(dir, 'results', 'sb1', 'other_eth1.json'), '{"torn":');
    const listed = await cache.list('sb1');
    expect(listed.records).toHaveLength(1);
    expect(listed.corrupt.map((c) => c.path)).toEqual([join(dir, 'results', 'sb1', 'other_eth1.json')]);
    await cache.remove(base);
    expect((await cache.list('sb1')).records).toEqual([]);
    await cache.removeContainer('sb1');
    expect(await cache.containerIds()).toEqual([]);
    await cache.remove(base); // idempotent
  });

  it('refuses ids that would escape the cache dir', async () => {
    await expect(new CniCache(dir).list('../etc')).rejects.toThrow(/invalid network namespace name/);
  });
});
