// bench/network/cni-floor: the cost of the CNI plugins alone — a pinned
// netns (`ip netns add`), the bridge + host-local + portmap chain ADD, then
// DEL in reverse and `ip netns del` — run by hand with the CNI environment,
// on its own bridge and subnet. The floor under either runtime's pod network.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { defaultBridgeConfig } from '@crius/network-svc';
import { now } from '../report.js';

const run = promisify(execFile);
const CNI_PATH = '/usr/lib/cni';

export interface CniFloor {
  /** One pod's network: netns add + ADD chain, then DEL chain + netns del; ms of each half. */
  cycle(): Promise<{ setupMs: number; teardownMs: number }>;
  stop(): Promise<void>;
}

function invoke(plugin: string, command: 'ADD' | 'DEL', conf: object, netns: string, id: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(CNI_PATH, plugin), [], {
      env: { ...process.env, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`CNI ${plugin} ${command} for ${id} exited ${code}: ${out || err}`));
      else resolve(out.trim() ? JSON.parse(out) : undefined);
    });
    child.stdin.end(JSON.stringify(conf));
  });
}

/** A third network of the same shape as both runtimes' (bridge + host-local + portmap), on 10.91.N.0/24. */
export async function startCniFloor(): Promise<CniFloor> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-bench-cni-'));
  const tag = randomBytes(3).toString('hex');
  const bridge = `cfb${tag}`;
  const { stdout: routes } = await run('ip', ['-4', 'route', 'show']);
  let octet = randomBytes(1)[0]!;
  while (routes.includes(`10.91.${octet}.`)) octet = (octet + 1) % 256;
  const list = defaultBridgeConfig(`10.91.${octet}.0/24`, { name: `cni-floor-${tag}`, bridge, dataDir: path.join(dir, 'ipam') });
  /** Namespaces not yet torn down, with what DEL needs (for stop() after a failure). */
  const live = new Map<string, { id: string; result?: unknown }>();
  let seq = 0;

  const pluginConf = (p: object, prevResult?: unknown) => ({ ...p, name: list.name, cniVersion: list.cniVersion, ...(prevResult ? { prevResult } : {}) });
  const type = (p: object) => (p as { type: string }).type;
  const teardown = async (name: string) => {
    const { id, result } = live.get(name)!;
    for (const p of [...list.plugins].reverse()) await invoke(type(p), 'DEL', pluginConf(p, result), `/var/run/netns/${name}`, id);
    await run('ip', ['netns', 'del', name]);
    live.delete(name);
  };

  return {
    async cycle() {
      const name = `cnifloor-${tag}-${++seq}`;
      const id = `floor${tag}${seq}`;
      const t0 = now();
      await run('ip', ['netns', 'add', name]);
      const entry: { id: string; result?: unknown } = { id };
      live.set(name, entry);
      for (const p of list.plugins) entry.result = await invoke(type(p), 'ADD', pluginConf(p, entry.result), `/var/run/netns/${name}`, id);
      const t1 = now();
      await teardown(name);
      return { setupMs: t1 - t0, teardownMs: now() - t1 };
    },
    async stop() {
      for (const name of [...live.keys()]) {
        await teardown(name).catch(() => run('ip', ['netns', 'del', name]).catch(() => undefined));
      }
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
