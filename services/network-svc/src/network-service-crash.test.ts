// SIGKILL of the network service in the middle of a CNI ADD: the bridge
// plugin has already made the veth and taken a host-local lease when a
// (test) plugin later in the chain hangs and the whole service process is
// killed. A fresh service must then tear down without leaks, or set up anew.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniCache } from './cni-cache.js';
import { defaultBridgeConfig } from './default-config.js';
import { NetworkService, type NetworkServiceOptions, type SetUpPodRequest } from './network-service.js';
import { bundleEntry } from './testdata/bundle.js';
import { hostVeths, killPid, leases, makePrivateNet, writeConf, type PrivateNet } from './testdata/env.js';

let net: PrivateNet;
let runner: string;
let opts: NetworkServiceOptions;
let netName: string;
const children: ChildProcess[] = [];
const sleeperPids: number[] = [];
const started: string[] = [];

function pod(id: string): SetUpPodRequest {
  started.push(id);
  return { sandboxId: id, name: id, namespace: 'crash', uid: `u-${id}`, hostNetwork: false };
}

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await access(path);
    } catch {
      if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Field 3, after the parenthesised command name, is the state.
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** Runs setUpPod in a separate process and SIGKILLs it (and its plugin) once the hanging plugin has started. */
async function crashMidAdd(id: string): Promise<void> {
  const marker = join(net.root, `${id}.marker`);
  await writeConf(net, '10-crash.conflist', configWith({ type: 'crius-fake', mode: 'sleep', failOn: ['ADD'], marker }));
  const child = spawn(process.execPath, [runner, JSON.stringify({ service: opts, pod: pod(id) })], { detached: true, stdio: 'ignore' });
  children.push(child);
  await waitFor(marker, 20_000);
  sleeperPids.push(Number(await readFile(marker, 'utf8')));
  const exited = new Promise((r) => child.once('exit', r));
  // The runner leads its own process group; the hanging plugin is in it too.
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
}

function configWith(extra?: Record<string, unknown>) {
  const cfg = defaultBridgeConfig(net.subnet, { name: netName, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false });
  if (extra) cfg.plugins.push(extra as { type: string });
  return cfg;
}

beforeAll(async () => {
  net = await makePrivateNet('crash');
  netName = `crt-${net.bridge}`;
  runner = join(net.root, 'crash-runner.mjs');
  await bundleEntry(fileURLToPath(new URL('./testdata/crash-runner.ts', import.meta.url)), runner);
  opts = { netnsDir: net.netnsDir, cniConfDirs: [net.confDir], cniBinDirs: net.binDirs, cacheDir: net.cacheDir, pluginTimeoutMs: 60_000 };
});

afterAll(async () => {
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) killPid(c);
  for (const pid of sleeperPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone with its process group
    }
  }
  try {
    const svc = new NetworkService(opts);
    await writeConf(net, '10-crash.conflist', configWith());
    for (const id of started) await svc.tearDownPod(id).catch(() => {});
  } finally {
    await net?.cleanup();
  }
});

describe('SIGKILL of the service mid-ADD', () => {
  it('leaves an intent record, and teardown by a new service removes netns, veth and lease', async () => {
    await crashMidAdd('crash1');
    // What the killed ADD left behind.
    expect(await leases(net, netName)).toHaveLength(1);
    expect(await hostVeths(net.bridge)).toHaveLength(1);
    const { records } = await new CniCache(net.cacheDir).list('crash1');
    expect(records.map((r) => r.state)).toEqual(['adding']);
    const svc = new NetworkService(opts);
    expect(await svc.podStatus('crash1')).toMatchObject({ netnsExists: true, complete: false, ips: [] });
    await svc.tearDownPod('crash1');
    expect(await svc.netns.exists('crash1')).toBe(false);
    expect(await hostVeths(net.bridge)).toEqual([]);
    expect(await leases(net, netName)).toEqual([]);
    expect((await new CniCache(net.cacheDir).list('crash1')).records).toEqual([]);
    // The hanging plugin died with the service's process group (a zombie until PID 1 reaps it).
    expect(await isRunning(sleeperPids[0]!)).toBe(false);
  });

  it('a retried setUp after the crash cleans up first and ends with exactly one lease', async () => {
    await crashMidAdd('crash2');
    await writeConf(net, '10-crash.conflist', configWith());
    const svc = new NetworkService(opts);
    const res = await svc.setUpPod(pod('crash2'));
    expect(res.ips).toHaveLength(1);
    expect(await leases(net, netName)).toEqual(res.ips);
    expect(await hostVeths(net.bridge)).toHaveLength(1);
    await svc.tearDownPod('crash2');
    expect(await leases(net, netName)).toEqual([]);
    expect(await hostVeths(net.bridge)).toEqual([]);
  });
});
