// Broken inputs: missing conf dir (appearing later), invalid JSON, missing
// plugin binary, a plugin returning an error, a 0.4.0 plugin result. Uses the
// test plugin (no host networking) but real namespaces and cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError } from '@crius/common';
import { CniPluginError } from './cni-exec.js';
import { NetworkService, type SetUpPodRequest } from './network-service.js';
import { makePrivateNet, writeConf, type PrivateNet } from './testdata/env.js';

let net: PrivateNet;
let svc: NetworkService;
const pod = (id: string): SetUpPodRequest => ({ sandboxId: id, name: id, namespace: 'ns', uid: `u-${id}`, hostNetwork: false });
const conflist = (plugins: unknown[], extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'fake-net', plugins, ...extra });

async function confFiles(): Promise<string[]> {
  return readdir(net.confDir).catch(() => []);
}
async function clearConf(): Promise<void> {
  for (const f of await confFiles()) await rm(join(net.confDir, f));
}

beforeAll(async () => {
  net = await makePrivateNet('errs');
  svc = new NetworkService({ netnsDir: net.netnsDir, cniConfDirs: [net.confDir], cniBinDirs: net.binDirs, cacheDir: net.cacheDir, pluginTimeoutMs: 10_000 });
  await svc.start();
});
afterAll(async () => {
  svc?.close();
  await net?.cleanup();
});

describe('NetworkService status and failures', () => {
  it('is not ready while the conf dir is missing, and ready once it appears with a config', async () => {
    expect(await svc.status()).toEqual({
      ready: false,
      reason: 'NetworkPluginNotReady',
      message: `cni config uninitialized: no network config found in ${net.confDir}`,
    });
    await expect(svc.setUpPod(pod('early'))).rejects.toBeInstanceOf(FailedPreconditionError);
    await mkdir(net.confDir);
    await writeConf(net, '10-fake.conflist', conflist([{ type: 'crius-fake' }]));
    expect(await svc.status()).toEqual({ ready: true, network: 'fake-net' });
  });

  it('reports an invalid JSON config by file name, and falls back to a later valid file', async () => {
    await clearConf();
    const bad = await writeConf(net, '05-bad.conflist', '{"cniVersion": "1.0.0", ');
    const st = await svc.status();
    expect(st.ready).toBe(false);
    expect(st.message).toContain(`CNI config ${bad}: invalid JSON`);
    await writeConf(net, '10-fake.conflist', conflist([{ type: 'crius-fake' }]));
    expect(await svc.status()).toEqual({ ready: true, network: 'fake-net' });
  });

  it('is not ready when a plugin binary is missing, and setUp fails naming it without leaving state', async () => {
    await clearConf();
    await writeConf(net, '10-fake.conflist', conflist([{ type: 'crius-fake' }, { type: 'no-such-plugin' }]));
    const st = await svc.status();
    expect(st).toMatchObject({ ready: false, reason: 'NetworkPluginNotReady', network: 'fake-net' });
    expect(st.message).toMatch(/CNI plugin binary not found: no-such-plugin \(searched \/usr\/lib\/cni, /);
    const err = await svc.setUpPod(pod('nobin')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toMatch(/CNI plugin "no-such-plugin" ADD \(network "fake-net", container nobin\): binary not found/);
    expect(await svc.netns.exists('nobin')).toBe(false);
    expect(await readdir(join(net.cacheDir, 'results')).catch(() => [])).toEqual([]);
  });

  it('rolls back when a plugin returns a CNI error: DEL runs, no netns or cache is left', async () => {
    await clearConf();
    const rec = join(net.root, 'rec-fail');
    await mkdir(rec);
    await writeConf(net, '10-fake.conflist', conflist([{ type: 'crius-fake', record: rec }, { type: 'crius-fake', mode: 'fail', failOn: ['ADD'] }]));
    const err = await svc.setUpPod(pod('fails')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as Error).message).toBe('CNI plugin "crius-fake" ADD (network "fake-net", container fails) failed: error code 7: fake failure: asked to fail ADD');
    const cmds = await Promise.all((await readdir(rec)).sort().map(async (f) => JSON.parse(await readFile(join(rec, f), 'utf8')).env.CNI_COMMAND));
    expect(cmds.sort()).toEqual(['ADD', 'DEL']);
    expect(await svc.netns.exists('fails')).toBe(false);
    await expect(svc.podStatus('fails')).rejects.toThrow(/no pod network/);
  });

  it('converts a 0.4.0 result for our use and hands the raw one back to DEL', async () => {
    await clearConf();
    const rec = join(net.root, 'rec-040');
    await mkdir(rec);
    const result = {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', sandbox: '/x' }],
      ips: [{ version: '4', address: '10.250.0.9/24', interface: 0 }],
    };
    await writeConf(net, '10-fake.conflist', { ...conflist([{ type: 'crius-fake', record: rec, result }]), cniVersion: '0.4.0' });
    const setup = await svc.setUpPod(pod('v040'));
    expect(setup.ips).toEqual(['10.250.0.9']);
    expect(setup.interfaces).toEqual([{ name: 'eth0', addresses: ['10.250.0.9/24'] }]);
    await svc.tearDownPod('v040');
    const calls = await Promise.all((await readdir(rec)).map(async (f) => JSON.parse(await readFile(join(rec, f), 'utf8'))));
    const del = calls.find((c) => c.env.CNI_COMMAND === 'DEL');
    expect(del.stdin.prevResult).toEqual(result);
    expect(del.env.CNI_NETNS).toBe(join(net.netnsDir, 'v040'));
  });

  it('keeps netns and cache when DEL fails, so a retried teardown finishes the job', async () => {
    await clearConf();
    const flag = join(net.root, 'del-fails');
    await writeFile(flag, '');
    await writeConf(net, '10-fake.conflist', conflist([{ type: 'crius-fake', mode: 'fail', failOn: ['DEL'], failWhile: flag }]));
    await svc.setUpPod(pod('delfail'));
    await expect(svc.tearDownPod('delfail')).rejects.toThrow(/CNI plugin "crius-fake" DEL \(network "fake-net", container delfail\) failed: error code 7/);
    expect(await svc.podStatus('delfail')).toMatchObject({ netnsExists: true, complete: true });
    await rm(flag);
    await svc.tearDownPod('delfail');
    expect(await svc.netns.exists('delfail')).toBe(false);
    await expect(svc.podStatus('delfail')).rejects.toThrow(/no pod network/);
  });
});
