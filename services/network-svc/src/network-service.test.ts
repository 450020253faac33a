// Real pod networking: real bridge/host-local/portmap plugins, real
// namespaces, in a private setup (own bridge, subnet, dirs) that afterAll
// removes. Traffic goes only to 127.0.0.1 and into namespaces made here.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { defaultBridgeConfig } from './default-config.js';
import { NetworkService, type SetUpPodRequest } from './network-service.js';
import { hostVeths, iptablesChains, killPid, leases, makePrivateNet, startHttpd, wget, writeConf, type PrivateNet } from './testdata/env.js';

let net: PrivateNet;
let svc: NetworkService;
let netName: string;
const procs: ChildProcess[] = [];
const pods = new Set<string>();

const pod = (id: string, extra: Partial<SetUpPodRequest> = {}): SetUpPodRequest => {
  pods.add(id);
  return { sandboxId: id, name: `pod-${id}`, namespace: 'ns1', uid: `uid-${id}`, hostNetwork: false, portMappings: [], ...extra };
};

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

beforeAll(async () => {
  net = await makePrivateNet('svc');
  netName = `crt-${net.bridge}`;
  await writeConf(net, '10-test.conflist', defaultBridgeConfig(net.subnet, { name: netName, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false }));
  svc = new NetworkService({ netnsDir: net.netnsDir, cniConfDirs: [net.confDir], cniBinDirs: net.binDirs, cacheDir: net.cacheDir, pluginTimeoutMs: 20_000 });
  await svc.start();
});

afterEach(async () => {
  for (const p of procs.splice(0)) killPid(p);
  for (const id of [...pods]) {
    await svc.tearDownPod(id);
    pods.delete(id);
  }
});

afterAll(async () => {
  for (const p of procs.splice(0)) killPid(p);
  try {
    for (const id of pods) await svc?.tearDownPod(id).catch(() => {});
  } finally {
    svc?.close();
    await net?.cleanup();
  }
});

describe('NetworkService with real CNI plugins', () => {
  it('reports NetworkReady for the private network', async () => {
    expect(await svc.status()).toEqual({ ready: true, network: netName });
  });

  it('gives two pods distinct IPs that reach each other and the host reaches', async () => {
    const a = await svc.setUpPod(pod('conn-a'));
    const b = await svc.setUpPod(pod('conn-b'));
    expect(a.netnsPath).toBe(join(net.netnsDir, 'conn-a'));
    expect(a.ips).toHaveLength(1);
    expect(a.ips[0]).toMatch(new RegExp(`^10\\.89\\.${net.octet}\\.\\d+$`));
    expect(b.ips[0]).not.toBe(a.ips[0]);
    expect(a.interfaces).toEqual([expect.objectContaining({ name: 'eth0', addresses: [`${a.ips[0]}/24`] })]);
    procs.push(await startHttpd(a.netnsPath, join(net.root, 'www-a'), 'hello from a'));
    procs.push(await startHttpd(b.netnsPath, join(net.root, 'www-b'), 'hello from b'));
    expect(await wget(b.netnsPath, `http://${a.ips[0]}:8080/`)).toBe('hello from a');
    expect(await wget(a.netnsPath, `http://${b.ips[0]}:8080/`)).toBe('hello from b');
    expect(await wget('', `http://${b.ips[0]}:8080/`)).toBe('hello from b');
    // Loopback inside the pod is up (lo brought up at netns creation).
    expect(await wget(a.netnsPath, 'http://127.0.0.1:8080/')).toBe('hello from a');
  });

  it('is idempotent: a retried setUp returns the same IP; teardown twice is fine and releases everything', async () => {
    const first = await svc.setUpPod(pod('idem'));
    const again = await svc.setUpPod(pod('idem'));
    expect(again).toEqual(first);
    expect(await svc.podStatus('idem')).toEqual({ ...first, netnsExists: true, complete: true });
    expect(await leases(net, netName)).toEqual(first.ips);
    await svc.tearDownPod('idem');
    await svc.tearDownPod('idem');
    pods.delete('idem');
    expect(await leases(net, netName)).toEqual([]);
    expect(await hostVeths(net.bridge)).toEqual([]);
    expect(await svc.netns.exists('idem')).toBe(false);
    await expect(svc.podStatus('idem')).rejects.toThrow(/no pod network for sandbox idem/);
  });

  it('tears down with the current config (re-derived DEL) when the cache record is lost', async () => {
    const a = await svc.setUpPod(pod('lost'));
    await rm(join(net.cacheDir, 'results', 'lost'), { recursive: true });
    expect(await leases(net, netName)).toEqual(a.ips);
    await svc.tearDownPod('lost');
    pods.delete('lost');
    expect(await leases(net, netName)).toEqual([]);
    expect(await hostVeths(net.bridge)).toEqual([]);
    expect(await svc.netns.exists('lost')).toBe(false);
  });

  it('returns no namespace for host-network pods', async () => {
    expect(await svc.setUpPod({ ...pod('hostnet'), hostNetwork: true })).toEqual({ netnsPath: '', ips: [], interfaces: [] });
    expect(await svc.netns.exists('hostnet')).toBe(false);
  });

  it('runs CNI CHECK, which fails naming the plugin once the pod interface is gone', async () => {
    const a = await svc.setUpPod(pod('check'));
    await svc.checkPod('check');
    expect((await runCommand('nsenter', [`--net=${a.netnsPath}`, 'ip', 'link', 'del', 'eth0'])).code).toBe(0);
    await expect(svc.checkPod('check')).rejects.toThrow(/CNI plugin "bridge" CHECK/);
  });

  it('maps a hostPort on 127.0.0.1 through portmap, and removes its iptables chains on teardown', async () => {
    const hostPort = await freePort();
    const a = await svc.setUpPod(pod('pm', { portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort, hostIp: '127.0.0.1' }] }));
    procs.push(await startHttpd(a.netnsPath, join(net.root, 'www-pm'), 'via hostport'));
    expect(await wget(a.netnsPath, 'http://127.0.0.1:8080/')).toBe('via hostport');
    // portmap DNATs locally generated traffic and sets route_localnet on the bridge so 127.0.0.1 may be routed to the pod.
    expect(await wget('', `http://127.0.0.1:${hostPort}/`)).toBe('via hostport');
    expect((await runCommand('cat', [`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`])).stdout.trim()).toBe('1');
    expect((await iptablesChains('nat', 'CNI-DN-')).length).toBe(1);
    await svc.tearDownPod('pm');
    pods.delete('pm');
    expect(await iptablesChains('nat', 'CNI-DN-')).toEqual([]);
    await expect(wget('', `http://127.0.0.1:${hostPort}/`, 2)).rejects.toThrow();
  });

  it('does not map hostPorts when the config has no portmap plugin', async () => {
    const conf = join(net.root, 'net.d-noportmap');
    const noPm = new NetworkService({ netnsDir: net.netnsDir, cniConfDirs: [conf], cniBinDirs: net.binDirs, cacheDir: net.cacheDir });
    await writeConf({ ...net, confDir: conf }, '10.conflist', defaultBridgeConfig(net.subnet, { name: netName, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false, portMap: false }));
    const hostPort = await freePort();
    const a = await noPm.setUpPod({ ...pod('nopm', { portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort, hostIp: '127.0.0.1' }] }) });
    try {
      procs.push(await startHttpd(a.netnsPath, join(net.root, 'www-nopm'), 'unmapped'));
      expect(await wget(a.netnsPath, 'http://127.0.0.1:8080/')).toBe('unmapped');
      await expect(wget('', `http://127.0.0.1:${hostPort}/`, 2)).rejects.toThrow();
    } finally {
      await noPm.tearDownPod('nopm');
      pods.delete('nopm');
    }
  });

  it('reconcile tears down unknown sandboxes and reports known ones whose namespace vanished', async () => {
    await svc.setUpPod(pod('rec-keep'));
    const gone = await svc.setUpPod(pod('rec-gone'));
    await svc.setUpPod(pod('rec-orphan'));
    // Simulate a reboot-style loss of one pinned namespace.
    expect((await runCommand('umount', [gone.netnsPath])).code).toBe(0);
    expect(await svc.reconcile(['rec-keep', 'rec-gone'])).toEqual(['rec-gone']);
    pods.delete('rec-orphan');
    expect(await svc.netns.exists('rec-orphan')).toBe(false);
    await expect(svc.podStatus('rec-orphan')).rejects.toThrow(/no pod network/);
    // The vanished pod's DEL still releases its lease (empty CNI_NETNS).
    await svc.tearDownPod('rec-gone');
    pods.delete('rec-gone');
    expect(await leases(net, netName)).toEqual([(await svc.podStatus('rec-keep')).ips[0]]);
  });

  it('hands the pod CIDR to configs using usePodCidr, persisted across restarts', async () => {
    const conf = join(net.root, 'net.d-podcidr');
    const cacheDir = join(net.root, 'cache-podcidr');
    const name = `${netName}-cidr`;
    const cfg = defaultBridgeConfig('10.0.0.0/8', { name, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false, portMap: false });
    (cfg.plugins[0]!.ipam as { ranges: unknown }).ranges = [[{ subnet: 'usePodCidr' }]];
    await writeConf({ ...net, confDir: conf }, '10.conflist', cfg);
    const opts = { netnsDir: net.netnsDir, cniConfDirs: [conf], cniBinDirs: net.binDirs, cacheDir };
    const s1 = new NetworkService(opts);
    const st = await s1.status();
    expect(st).toMatchObject({ ready: false, reason: 'NetworkPluginNotReady', network: name });
    expect(st.message).toMatch(/uses usePodCidr: waiting for a pod CIDR/);
    await expect(s1.setUpPod(pod('cidr'))).rejects.toThrow(/pod network not ready: .*no pod CIDR is set/);
    await s1.updatePodCidr(net.subnet);
    expect(await s1.status()).toEqual({ ready: true, network: name });
    await s1.updatePodCidr(''); // omitted, not cleared
    expect(await s1.status()).toEqual({ ready: true, network: name });
    const s2 = new NetworkService(opts);
    expect(await s2.status()).toEqual({ ready: true, network: name });
    const a = await s2.setUpPod(pod('cidr'));
    expect(a.ips[0]).toMatch(new RegExp(`^10\\.89\\.${net.octet}\\.`));
    await s2.tearDownPod('cidr');
    pods.delete('cidr');
  });

  it('returns both families, IPv4 first, for a dual-stack config', async () => {
    const conf = join(net.root, 'net.d-dual');
    const v6 = `fd89:${net.octet.toString(16)}::/64`;
    const name = `${netName}-dual`;
    await writeConf({ ...net, confDir: conf }, '10.conflist', defaultBridgeConfig([net.subnet, v6], { name, bridge: net.bridge, dataDir: net.dataDir, ipMasq: false, portMap: false }));
    const dual = new NetworkService({ netnsDir: net.netnsDir, cniConfDirs: [conf], cniBinDirs: net.binDirs, cacheDir: net.cacheDir });
    const a = await dual.setUpPod(pod('dual'));
    try {
      expect(a.ips).toHaveLength(2);
      expect(a.ips[0]).toMatch(/^10\.89\./);
      expect(a.ips[1]).toMatch(new RegExp(`^fd89:${net.octet.toString(16)}::`));
    } finally {
      await dual.tearDownPod('dual');
      pods.delete('dual');
    }
    expect(await leases(net, name)).toEqual([]);
  });
});
