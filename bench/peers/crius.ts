// bench/peers/crius: a private crius stack for benches. Same shape as the
// test harness's startStack (own dir, NATS port, CNI bridge and subnet) but
// logging at "info", the production default, so debug logging does not tax
// crius in a comparison; streaming and metrics on private/no ports.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type CriusConfig } from '@crius/common';
import { Stack } from '../../services/cli/src/launcher/stack.js';
import { cleanupHost, freePort } from '../../test/harness/stack.js';
import { CriDriver, removeAllPods } from '../lib-cri.js';
import { listProcs, type ProcInfo } from '../procs.js';

export interface CriusPeer {
  dir: string;
  socket: string;
  bridge: string;
  subnet: string;
  config: CriusConfig;
  /** nats-server and the six node processes, by name. */
  daemonPids(): { name: string; pid: number }[];
  /** conmon processes of this stack's containers (their argv names paths under dir). */
  conmons(procs?: ProcInfo[]): Promise<ProcInfo[]>;
  stop(): Promise<void>;
}

export interface CriusOptions {
  logLevel?: string;
  /** TOML appended to the generated config. */
  extraToml?: string;
}

export async function startCrius(opts: CriusOptions = {}): Promise<CriusPeer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-bench-'));
  const tag = randomBytes(3).toString('hex');
  const bridge = `crb${tag}`;
  const subnet = `10.89.${parseInt(tag.slice(0, 2), 16)}.0/24`;
  const toml = `[log]
level = "${opts.logLevel ?? 'info'}"
[state]
root = "${dir}/lib"
run_root = "${dir}/run"
[api]
listen = "${dir}/run/crius.sock"
metrics_address = ""
streaming_address = "127.0.0.1:${await freePort()}"
[bus]
address = "127.0.0.1:${await freePort()}"
[image]
unqualified_search_registries = []
[network]
cni_conf_dirs = ["${dir}/cni"]
netns_dir = "${dir}/run/netns"
default_bridge = "${bridge}"
default_subnet = "${subnet}"
${opts.extraToml ?? ''}`;
  const configPath = path.join(dir, 'crius.toml');
  await writeFile(configPath, toml);
  const config = parseConfig(toml, configPath);
  const stack = new Stack({ config, configPath });
  try {
    await stack.start();
  } catch (err) {
    await stack.stop();
    await cleanupHost(dir, bridge);
    throw new Error(`crius stack in ${dir} did not start (logs in ${dir}/run/logs)`, { cause: err });
  }
  return {
    dir,
    socket: config.api.listen,
    bridge,
    subnet,
    config,
    daemonPids: () => [...stack.children.entries()].flatMap(([name, c]) => (c.pid ? [{ name, pid: c.pid }] : [])),
    conmons: async (procs) => (procs ?? (await listProcs())).filter((p) => p.comm.includes('conmon') && p.argv.some((a) => a.startsWith(dir + '/'))),
    async stop() {
      const driver = new CriDriver(config.api.listen);
      await removeAllPods(driver).catch((err) => console.error(`crius cleanup: ${(err as Error).message}`));
      driver.close();
      await stack.stop();
      await cleanupHost(dir, bridge);
    },
  };
}
