// Loads the pod network's CNI configuration: parses and validates .conf,
// .conflist and .json files (a single-plugin config is wrapped into a list),
// picks the first valid one by file name, and re-reads when a dir changes.
// Owned by network-svc.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '@crius/common';
import type { NetworkConfigList, PluginConf } from './cni-types.js';

export const CONFIG_EXTENSIONS = ['.conf', '.conflist', '.json'] as const;

/** Versions whose results share the 0.3.x/1.0.0 shape we convert from. */
export const SUPPORTED_CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
// A plugin type becomes a file name inside a bin dir: no path separators.
const PLUGIN_TYPE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && (CONFIG_EXTENSIONS as readonly string[]).includes(extname(name));
}

function bad(file: string, key: string, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`CNI config ${file}: key "${key}": ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one file's text; errors name the file and the offending key. */
export function parseNetworkConfig(file: string, text: string): NetworkConfigList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`CNI config ${file}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(raw)) throw new InvalidArgumentError(`CNI config ${file}: top level must be a JSON object`);
  const isList = extname(file) === '.conflist' || 'plugins' in raw;
  return isList ? validateList(file, raw) : wrapSingle(file, raw);
}

function wrapSingle(file: string, raw: Record<string, unknown>): NetworkConfigList {
  const { cniVersion, name, ...plugin } = raw;
  return validateList(file, { cniVersion, name, plugins: [plugin] }, true);
}

function validateList(file: string, raw: Record<string, unknown>, single = false): NetworkConfigList {
  const version = raw.cniVersion;
  if (typeof version !== 'string' || version === '') throw bad(file, 'cniVersion', 'must be a non-empty string');
  if (!(SUPPORTED_CNI_VERSIONS as readonly string[]).includes(version)) {
    throw bad(file, 'cniVersion', `unsupported version ${JSON.stringify(version)} (supported: ${SUPPORTED_CNI_VERSIONS.join(', ')})`);
  }
  if (typeof raw.name !== 'string' || !NETWORK_NAME_RE.test(raw.name)) {
    throw bad(file, 'name', 'must be a string of letters, digits, "_", "." or "-", starting with a letter or digit');
  }
  const disableCheck = parseBool(file, 'disableCheck', raw.disableCheck);
  if (!Array.isArray(raw.plugins) || raw.plugins.length === 0) throw bad(file, 'plugins', 'must be a non-empty array');
  const plugins = raw.plugins.map((p: unknown, i: number) => validatePlugin(file, single ? '' : `plugins[${i}].`, p));
  const out: NetworkConfigList = { ...raw, cniVersion: version, name: raw.name, plugins };
  if (disableCheck === undefined) delete out.disableCheck;
  else out.disableCheck = disableCheck;
  return out;
}

function parseBool(file: string, key: string, v: unknown): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  // libcni accepts the strings too; configs in the wild use them.
  if (v === 'true' || v === 'false') return v === 'true';
  throw bad(file, key, 'must be a boolean');
}

function validatePlugin(file: string, prefix: string, p: unknown): PluginConf {
  if (!isObject(p)) throw bad(file, prefix.slice(0, -1) || 'plugin', 'must be an object');
  if (typeof p.type !== 'string' || !PLUGIN_TYPE_RE.test(p.type)) {
    throw bad(file, `${prefix}type`, 'must be a plugin binary name (letters, digits, "_", "." or "-")');
  }
  if (p.capabilities !== undefined) {
    if (!isObject(p.capabilities)) throw bad(file, `${prefix}capabilities`, 'must be an object of booleans');
    for (const [k, v] of Object.entries(p.capabilities)) {
      if (typeof v !== 'boolean') throw bad(file, `${prefix}capabilities.${k}`, 'must be a boolean');
    }
  }
  if (p.ipam !== undefined && (!isObject(p.ipam) || typeof p.ipam.type !== 'string')) {
    throw bad(file, `${prefix}ipam.type`, 'ipam must be an object with a string "type"');
  }
  return p as PluginConf;
}

export const DEFAULT_CNI_CONF_DIRS = ['/etc/cni/net.d'];
export const NOT_READY_REASON = 'NetworkPluginNotReady';

export interface LoadedNetwork {
  file: string;
  config: NetworkConfigList;
}

/** Readiness of the network side, as the NetworkReady runtime condition. */
export interface NetworkStatus {
  ready: boolean;
  reason?: string;
  message?: string;
  network?: string;
}

export interface LoadResult {
  network?: LoadedNetwork;
  /** One line per file that was skipped, naming the file and the problem. */
  errors: string[];
  status: NetworkStatus;
}

async function configFilesOf(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(isConfigFileName).sort().map((n) => join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Reads the dirs in order, files by name; the first valid config wins. */
export async function loadNetworkConfig(confDirs: readonly string[]): Promise<LoadResult> {
  const errors: string[] = [];
  let seen = 0;
  for (const dir of confDirs) {
    for (const file of await configFilesOf(dir)) {
      seen++;
      try {
        const config = parseNetworkConfig(file, await readFile(file, 'utf8'));
        return { network: { file, config }, errors, status: { ready: true, network: config.name } };
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  }
  const where = confDirs.join(', ');
  const message =
    seen === 0
      ? `cni config uninitialized: no network config found in ${where}`
      : `cni config uninitialized: no valid network config in ${where}: ${errors.join('; ')}`;
  return { errors, status: { ready: false, reason: NOT_READY_REASON, message } };
}

/**
 * Keeps the current network config. fs.watch marks it stale and re-reads in
 * the background; get() re-reads on demand when stale or not yet valid, so a
 * missed inotify event or a dir created later costs one readdir, not a wrong answer.
 */
export class CniConfigLoader {
  readonly confDirs: string[];
  private last?: LoadResult;
  private stale = true;
  private readonly watchers = new Map<string, { w: FSWatcher; ino: number }>();
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    confDirs: readonly string[] = DEFAULT_CNI_CONF_DIRS,
    private readonly onChange?: (r: LoadResult) => void,
  ) {
    this.confDirs = confDirs.map((d) => resolve(d));
  }

  /** Re-reads the dirs now. */
  async reload(): Promise<LoadResult> {
    this.stale = false;
    let res: LoadResult;
    try {
      res = await loadNetworkConfig(this.confDirs);
    } catch (err) {
      this.stale = true;
      res = { errors: [], status: { ready: false, reason: NOT_READY_REASON, message: `read CNI config: ${(err as Error).message}` } };
    }
    const changed = JSON.stringify(res) !== JSON.stringify(this.last);
    this.last = res;
    if (!this.closed) this.syncWatchers();
    if (changed) this.onChange?.(res);
    return res;
  }

  /** The current config, re-read first if a dir changed or nothing valid was found yet. */
  async get(): Promise<LoadResult> {
    if (this.stale || !this.last?.network) return this.reload();
    return this.last;
  }

  /** Starts watching the dirs (or, for a dir not there yet, its parent). */
  watch(): void {
    this.closed = false;
    this.syncWatchers();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private markStale(): void {
    this.stale = true;
    if (this.closed || this.timer) return;
    // Editors write files in several steps; settle before re-reading.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, 100);
    this.timer.unref();
  }

  private syncWatchers(): void {
    const wanted = new Set<string>();
    for (const dir of this.confDirs) {
      const target = this.tryWatch(dir) ? dir : this.tryWatch(dirname(dir), basename(dir)) ? dirname(dir) : undefined;
      if (target) wanted.add(target);
    }
    for (const [path, { w }] of this.watchers) {
      if (!wanted.has(path)) {
        w.close();
        this.watchers.delete(path);
      }
    }
  }

  /**
   * Watches path once per inode; with `only`, events for other names are
   * ignored. A dir removed (or replaced) leaves a dead watcher, so check the inode.
   */
  private tryWatch(path: string, only?: string): boolean {
    let ino: number;
    try {
      const st = statSync(path);
      if (!st.isDirectory()) return false;
      ino = st.ino;
    } catch {
      return false;
    }
    const have = this.watchers.get(path);
    if (have && have.ino === ino) return true;
    have?.w.close();
    try {
      const w = watch(path, { persistent: false }, (_event, name) => {
        if (!only || name === only) this.markStale();
      });
      w.on('error', () => {
        w.close();
        if (this.watchers.get(path)?.w === w) this.watchers.delete(path);
        this.markStale();
      });
      this.watchers.set(path, { w, ino });
      return true;
    } catch {
      this.watchers.delete(path);
      return false;
    }
  }
}
