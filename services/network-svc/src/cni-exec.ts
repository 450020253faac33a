// Executes CNI plugins per the CNI spec: finds the binary in the bin dirs,
// passes CNI_* env and the per-plugin config (name, cniVersion, prevResult,
// runtimeConfig for declared capabilities) on stdin, runs a list in order
// (ADD, CHECK) or reverse (DEL), and turns failures into errors naming the
// plugin. Owned by network-svc.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadlineExceededError, FailedPreconditionError, InternalError, InvalidArgumentError } from '@crius/common';
import { runCommand, type CommandRunner } from './command.js';
import { parseCniError } from './cni-result.js';
import type { AttachmentArgs, CapabilityArgs, NetworkConfigList, PluginConf } from './cni-types.js';

export const DEFAULT_CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** A plugin ran and reported failure (exit code != 0), with its CNI error object if it printed one. */
export class CniPluginError extends InternalError {
  constructor(
    message: string,
    readonly plugin: string,
    readonly command: CniCommand,
    readonly cniCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PodIdentity {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
}

/** The CNI_ARGS kubelet-era runtimes pass; IgnoreUnknown lets plugins skip keys they don't know. */
export function k8sCniArgs(pod: PodIdentity): Array<[string, string]> {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.namespace],
    ['K8S_POD_NAME', pod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.sandboxId],
    ['K8S_POD_UID', pod.uid],
  ];
}

export function formatCniArgs(pairs: ReadonlyArray<readonly [string, string]>): string {
  for (const [k, v] of pairs) {
    if (/[;=]/.test(k) || v.includes(';')) throw new InvalidArgumentError(`CNI_ARGS ${k}=${v}: keys and values must not contain ';' (keys not '=')`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}

/** The plugin's stdin: its own config plus list name/version, prevResult, and runtimeConfig for declared capabilities only. */
export function pluginStdin(list: NetworkConfigList, plugin: PluginConf, caps: CapabilityArgs, prevResult?: unknown): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, value] of Object.entries(caps)) {
    if (value !== undefined && plugin.capabilities?.[cap] === true) runtimeConfig[cap] = value;
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  else delete conf.runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

export function pluginEnv(command: CniCommand, args: AttachmentArgs, binDirs: readonly string[], base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Keep PATH and the like (portmap runs iptables) but no stray CNI_* of our own.
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('CNI_')) env[k] = v;
  return {
    ...env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: args.containerId,
    CNI_NETNS: args.netnsPath,
    CNI_IFNAME: args.ifName,
    CNI_ARGS: formatCniArgs(args.cniArgs),
    CNI_PATH: binDirs.join(':'),
  };
}

/** True when version a >= b (dotted numbers). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

export interface CniExecOptions {
  binDirs?: string[];
  timeoutMs?: number;
  run?: CommandRunner;
  env?: NodeJS.ProcessEnv;
}

export class CniExecutor {
  readonly binDirs: string[];
  readonly timeoutMs: number;
  private readonly run: CommandRunner;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: CniExecOptions = {}) {
    this.binDirs = opts.binDirs ?? DEFAULT_CNI_BIN_DIRS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    this.run = opts.run ?? runCommand;
    this.env = opts.env ?? process.env;
  }

  /** Path of the plugin binary, or undefined if no bin dir has an executable file of that name. */
  async findPlugin(type: string): Promise<string | undefined> {
    for (const dir of this.binDirs) {
      const path = join(dir, type);
      try {
        if ((await stat(path)).isFile()) {
          await access(path, constants.X_OK);
          return path;
        }
      } catch {
        // not in this dir
      }
    }
    return undefined;
  }

  /** Plugin types of the list (and their IPAM plugins) with no binary. */
  async missingPlugins(list: NetworkConfigList): Promise<string[]> {
    const types = new Set<string>();
    for (const p of list.plugins) {
      types.add(p.type);
      const ipam = p.ipam as { type?: unknown } | undefined;
      if (typeof ipam?.type === 'string') types.add(ipam.type);
    }
    const missing: string[] = [];
    for (const t of types) if (!(await this.findPlugin(t))) missing.push(t);
    return missing;
  }

  /** ADD each plugin in order, chaining prevResult; returns the last plugin's raw result. */
  async addList(list: NetworkConfigList, args: AttachmentArgs): Promise<unknown> {
    let prev: unknown;
    for (const plugin of list.plugins) {
      prev = await this.invoke('ADD', list, plugin, args, prev);
      if (prev === undefined) throw new CniPluginError(`CNI plugin "${plugin.type}" ADD (network "${list.name}"): printed no result`, plugin.type, 'ADD');
    }
    return prev;
  }

  /**
   * DEL each plugin in reverse order; prevResult is the cached ADD result
   * (0.4.0+). A plugin whose binary is gone is skipped (and returned): it
   * cannot clean up, and failing on it forever would leak the namespace.
   */
  async delList(list: NetworkConfigList, args: AttachmentArgs, prevResult?: unknown): Promise<string[]> {
    const prev = versionAtLeast(list.cniVersion, '0.4.0') ? prevResult : undefined;
    const skipped: string[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      if (await this.findPlugin(plugin.type)) await this.invoke('DEL', list, plugin, args, prev);
      else skipped.push(plugin.type);
    }
    return skipped;
  }

  /** CHECK each plugin in order; a no-op before 0.4.0 or with disableCheck. */
  async checkList(list: NetworkConfigList, args: AttachmentArgs, prevResult: unknown): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '0.4.0') || list.disableCheck) return;
    for (const plugin of list.plugins) await this.invoke('CHECK', list, plugin, args, prevResult);
  }

  /** Runs one plugin; returns its parsed stdout (undefined when empty). */
  async invoke(command: CniCommand, list: NetworkConfigList, plugin: PluginConf, args: AttachmentArgs, prevResult?: unknown): Promise<unknown> {
    const what = `CNI plugin "${plugin.type}" ${command} (network "${list.name}", container ${args.containerId})`;
    const path = await this.findPlugin(plugin.type);
    if (!path) throw new FailedPreconditionError(`${what}: binary not found in ${this.binDirs.join(', ')}`);
    const input = JSON.stringify(pluginStdin(list, plugin, args.capabilityArgs, prevResult));
    let res;
    try {
      res = await this.run(path, [], { env: pluginEnv(command, args, this.binDirs, this.env), input, timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new CniPluginError(`${what}: ${(err as Error).message}`, plugin.type, command, undefined, { cause: err });
    }
    if (res.timedOut) throw new DeadlineExceededError(`${what}: timed out after ${this.timeoutMs} ms, killed`);
    if (res.code !== 0) {
      const e = parseCniError(res.stdout);
      const why = e
        ? `error code ${e.code}: ${e.msg}${e.details ? `: ${e.details}` : ''}`
        : `${res.signal ? `killed by ${res.signal}` : `exit code ${res.code}`}: ${(res.stderr || res.stdout).trim().slice(-2000)}`;
      throw new CniPluginError(`${what} failed: ${why}`, plugin.type, command, e?.code);
    }
    const out = res.stdout.trim();
    if (!out) return undefined;
    try {
      return JSON.parse(out) as unknown;
    } catch (err) {
      if (command !== 'ADD') return undefined;
      throw new CniPluginError(`${what}: result is not JSON: ${out.slice(0, 200)}`, plugin.type, command, undefined, { cause: err });
    }
  }
}
