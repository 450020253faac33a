// 50 pods set up and torn down in parallel (bounded concurrency) on real
// plugins: every pod gets its own IP and every lease, veth and netns goes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBridgeConfig } from './default-config.js';
import { NetworkService } from './network-service.js';
import { hostVeths, leases, makePrivateNet, writeConf, type PrivateNet } from './testdata/env.js';

const PODS = 50;
const CONCURRENCY = 10;
let net: PrivateNet;
let svc: NetworkService;
let netName: string;
const ids = Array.from({ length: PODS }, (_, i) => `scale-${i}`);

async function pool<T>(items: readonly string[], fn: (id: string) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

beforeAll(async () => {
  net = await makePrivateNet('scale');
  netName = `crt-${net.bridge}`;
  await writeConf(net, '10-scale.conflist', defaultBridgeConfig(net.subnet, { name: netName, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false }));
  svc = new NetworkService({ netnsDir: net.netnsDir, cniConfDirs: [net.confDir], cniBinDirs: net.binDirs, cacheDir: net.cacheDir });
});

afterAll(async () => {
  try {
    if (svc) await pool(ids, (id) => svc.tearDownPod(id).catch(() => {}));
  } finally {
    await net?.cleanup();
  }
});

describe('parallel pods', () => {
  it(`sets up and tears down ${PODS} pods with distinct IPs and releases every lease`, async () => {
    const results = await pool(ids, (id) => svc.setUpPod({ sandboxId: id, name: id, namespace: 'scale', uid: id, hostNetwork: false }));
    const ips = results.map((r) => r.ips[0]);
    expect(new Set(ips).size).toBe(PODS);
    expect((await leases(net, netName)).sort()).toEqual([...ips].sort());
    expect(await hostVeths(net.bridge)).toHaveLength(PODS);
    expect((await svc.netns.list()).filter((e) => e.pinned)).toHaveLength(PODS);
    await pool(ids, (id) => svc.tearDownPod(id));
    expect(await leases(net, netName)).toEqual([]);
    expect(await hostVeths(net.bridge)).toEqual([]);
    expect(await svc.netns.list()).toEqual([]);
  }, 180_000);
});
