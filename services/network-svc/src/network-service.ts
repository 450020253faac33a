// NetworkService: what network-svc answers on the bus — pod network setup
// and teardown, pod network status and CHECK, NetworkReady, the pod CIDR from
// UpdateRuntimeConfig, and start-up reconciliation. The bus adapter is
// separate; this class knows nothing of NATS. Owned by network-svc.
//
// Recovery assumptions: the CNI cache (cacheDir) is durable and written
// before each ADD; pinned namespaces live in netnsDir (volatile: gone after a
// reboot, when reconcile DELs every cached attachment with an empty netns).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@crius/common';
import { writeJsonAtomic } from '@crius/common';
import { CniCache } from './cni-cache.js';
import { CniConfigLoader, DEFAULT_CNI_CONF_DIRS, NOT_READY_REASON, type NetworkStatus } from './cni-config.js';
import { CniExecutor, DEFAULT_CNI_BIN_DIRS, DEFAULT_PLUGIN_TIMEOUT_MS } from './cni-exec.js';
import type { CniBandwidth, NetworkConfigList } from './cni-types.js';
import type { CommandRunner } from './command.js';
import { KeyedLock } from '@crius/common';
import { checkNetnsName, DEFAULT_NETNS_DIR, LinuxNetnsManager, type NetnsManager } from './netns.js';
import { bandwidthFor, toCniPortMappings, type PodPortMapping } from './pod-args.js';
import { applyPodCidr, ipRangesFor, parsePodCidrs, wantsPodCidr } from './pod-cidr.js';
import { attachPod, detachPod, setupFromRecords, silentLogger, type NetLogger, type PodNetworkDeps, type PodSetup } from './pod-network.js';
import type { PodInterface } from './cni-result.js';

export const DEFAULT_CACHE_DIR = '/var/lib/crius/network';

export interface NetworkServiceOptions {
  netnsDir?: string;
  cniConfDirs?: string[];
  cniBinDirs?: string[];
  /** Durable state: CNI results cache and the pod CIDR. */
  cacheDir?: string;
  pluginTimeoutMs?: number;
  /** Initial pod CIDR(s), comma-separated; a value set by updatePodCidr and persisted wins. */
  podCidr?: string;
  logger?: NetLogger;
  /** For tests: another namespace manager or command runner. */
  netns?: NetnsManager;
  run?: CommandRunner;
}

export interface SetUpPodRequest {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
  hostNetwork: boolean;
  portMappings?: PodPortMapping[];
  bandwidth?: CniBandwidth;
  annotations?: Record<string, string>;
}

export interface PodNetworkStatus {
  netnsPath: string;
  netnsExists: boolean;
  /** Pod IPs, primary first; empty while an ADD is unfinished. */
  ips: string[];
  interfaces: PodInterface[];
  /** False when an ADD started but never finished (crash): tear down and retry. */
  complete: boolean;
}

export class NetworkService {
  readonly netns: NetnsManager;
  private readonly cni: CniExecutor;
  private readonly cache: CniCache;
  private readonly loader: CniConfigLoader;
  private readonly log: NetLogger;
  private readonly lock = new KeyedLock();
  private readonly podCidrFile: string;
  private podCidrs: string[];
  private init?: Promise<void>;

  constructor(opts: NetworkServiceOptions = {}) {
    const cacheDir = resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR);
    this.log = opts.logger ?? silentLogger;
    this.netns = opts.netns ?? new LinuxNetnsManager({ dir: opts.netnsDir ?? DEFAULT_NETNS_DIR, ...(opts.run ? { run: opts.run } : {}) });
    this.cni = new CniExecutor({
      binDirs: opts.cniBinDirs ?? DEFAULT_CNI_BIN_DIRS,
      timeoutMs: opts.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS,
      ...(opts.run ? { run: opts.run } : {}),
    });
    this.cache = new CniCache(cacheDir);
    this.loader = new CniConfigLoader(opts.cniConfDirs ?? DEFAULT_CNI_CONF_DIRS, (r) =>
      this.log.info({ network: r.status.network, ready: r.status.ready, errors: r.errors }, 'CNI config (re)loaded'),
    );
    this.podCidrFile = join(cacheDir, 'pod-cidr.json');
    this.podCidrs = opts.podCidr ? parsePodCidrs(opts.podCidr) : [];
  }

  /** Loads persisted state and starts watching the config dirs. Other methods call the loading part themselves. */
  async start(): Promise<void> {
    await this.ready();
    this.loader.watch();
  }

  close(): void {
    this.loader.close();
  }

  private ready(): Promise<void> {
    this.init ??= (async () => {
      try {
        const saved = JSON.parse(await readFile(this.podCidrFile, 'utf8')) as { podCidr?: unknown };
        if (typeof saved.podCidr === 'string') this.podCidrs = parsePodCidrs(saved.podCidr);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, path: this.podCidrFile }, 'ignoring unreadable pod CIDR file');
      }
    })();
    return this.init;
  }

  /** NetworkReady: a valid config, all its plugin binaries present, and a pod CIDR if the config asks for one. */
  async status(): Promise<NetworkStatus> {
    await this.ready();
    const res = await this.loader.reload();
    if (!res.network) return res.status;
    const { file, config } = res.network;
    const notReady = (message: string): NetworkStatus => ({ ready: false, reason: NOT_READY_REASON, message, network: config.name });
    const missing = await this.cni.missingPlugins(config);
    if (missing.length) return notReady(`network "${config.name}" (${file}): CNI plugin binary not found: ${missing.join(', ')} (searched ${this.cni.binDirs.join(', ')})`);
    if (wantsPodCidr(config) && this.podCidrs.length === 0) return notReady(`network "${config.name}" (${file}) uses usePodCidr: waiting for a pod CIDR (UpdateRuntimeConfig)`);
    return { ready: true, network: config.name };
  }

  /** The config an ADD uses now, pod CIDR filled in. */
  private async networkForAdd(): Promise<NetworkConfigList> {
    const res = await this.loader.get();
    if (!res.network) throw new FailedPreconditionError(`pod network not ready: ${res.status.message}`);
    try {
      return applyPodCidr(res.network.config, this.podCidrs);
    } catch (err) {
      throw new FailedPreconditionError(`pod network not ready: ${(err as Error).message}`, { cause: err });
    }
  }

  async setUpPod(req: SetUpPodRequest): Promise<PodSetup> {
    checkNetnsName(req.sandboxId);
    if (req.hostNetwork) return { netnsPath: '', ips: [], interfaces: [] };
    for (const k of ['name', 'namespace', 'uid'] as const) {
      if (typeof req[k] !== 'string' || req[k].includes(';')) throw new InvalidArgumentError(`setUpPod ${req.sandboxId}: ${k} must be a string without ';'`);
    }
    const caps = {
      portMappings: toCniPortMappings(req.portMappings),
      bandwidth: bandwidthFor(req.bandwidth, req.annotations),
      ipRanges: ipRangesFor(this.podCidrs),
    };
    await this.ready();
    return this.lock.run(req.sandboxId, async () => {
      const { records } = await this.cache.list(req.sandboxId);
      const pinned = await this.netns.exists(req.sandboxId);
      // A kubelet retry after a timeout: the earlier call finished, hand back its result.
      if (records.length > 0 && pinned && records.every((r) => r.state === 'added')) {
        return setupFromRecords(this.netns.pathOf(req.sandboxId), records);
      }
      // Leftovers of a crashed or half-done setup are removed before starting over.
      if (records.length > 0 || pinned) await detachPod(this.deps(), req.sandboxId, () => this.fallbackConfig());
      const network = await this.networkForAdd();
      this.log.info({ sandboxId: req.sandboxId, network: network.name }, 'setting up pod network');
      return attachPod(this.deps(), { sandboxId: req.sandboxId, name: req.name, namespace: req.namespace, uid: req.uid }, network, caps);
    });
  }

  /** Idempotent: DEL with the cached (or, lacking it, current) config, then unpin the netns. */
  async tearDownPod(sandboxId: string): Promise<void> {
    checkNetnsName(sandboxId);
    await this.ready();
    await this.lock.run(sandboxId, () => detachPod(this.deps(), sandboxId, () => this.fallbackConfig()));
  }

  async podStatus(sandboxId: string): Promise<PodNetworkStatus> {
    checkNetnsName(sandboxId);
    const { records } = await this.cache.list(sandboxId);
    const netnsExists = await this.netns.exists(sandboxId);
    if (records.length === 0 && !netnsExists) throw new NotFoundError(`no pod network for sandbox ${sandboxId}`);
    const setup = setupFromRecords(this.netns.pathOf(sandboxId), records);
    return { ...setup, netnsExists, complete: records.length > 0 && records.every((r) => r.state === 'added') };
  }

  /** CNI CHECK of every attachment; throws naming the failing plugin. */
  async checkPod(sandboxId: string): Promise<void> {
    checkNetnsName(sandboxId);
    await this.lock.run(sandboxId, async () => {
      const { records } = await this.cache.list(sandboxId);
      if (records.length === 0) throw new NotFoundError(`no pod network for sandbox ${sandboxId}`);
      if (!(await this.netns.exists(sandboxId))) throw new FailedPreconditionError(`sandbox ${sandboxId}: network namespace ${this.netns.pathOf(sandboxId)} is gone`);
      for (const rec of records) {
        if (rec.state !== 'added') throw new FailedPreconditionError(`sandbox ${sandboxId}: CNI ADD on network "${rec.network}" never finished`);
        const args = { containerId: sandboxId, netnsPath: rec.netnsPath, ifName: rec.ifName, cniArgs: rec.cniArgs, capabilityArgs: rec.capabilityArgs };
        await this.cni.checkList(rec.config, args, rec.result);
      }
    });
  }

  /** UpdateRuntimeConfig: persist, then use for later ADDs ('' clears). */
  /** An empty value changes nothing: CRI says "if the CIDR is empty, runtimes should omit it" (containerd returns). */
  async updatePodCidr(cidr: string): Promise<void> {
    const cidrs = parsePodCidrs(cidr);
    if (cidrs.length === 0) return;
    await this.ready();
    await writeJsonAtomic(this.podCidrFile, { version: 1, podCidr: cidrs.join(',') });
    this.podCidrs = cidrs;
    this.log.info({ podCidr: cidrs }, 'pod CIDR updated');
  }

  get podCidr(): string {
    return this.podCidrs.join(',');
  }

  /**
   * Tears down every namespace or cached attachment whose sandbox is not in
   * `knownSandboxIds`; returns the known sandboxes whose namespace vanished.
   */
  async reconcile(knownSandboxIds: readonly string[]): Promise<string[]> {
    await this.ready();
    const known = new Set(knownSandboxIds);
    const ids = new Set([...(await this.netns.list()).map((e) => e.name), ...(await this.cache.containerIds())]);
    for (const id of ids) {
      if (known.has(id)) continue;
      try {
        await this.tearDownPod(id);
        this.log.info({ sandboxId: id }, 'reconcile: tore down network of unknown sandbox');
      } catch (err) {
        this.log.warn({ sandboxId: id, err }, 'reconcile: teardown of unknown sandbox failed; will retry next time');
      }
    }
    const vanished: string[] = [];
    for (const id of known) {
      try {
        const { records } = await this.cache.list(id);
        if (records.length > 0 && !(await this.netns.exists(id))) vanished.push(id);
      } catch (err) {
        this.log.warn({ sandboxId: id, err }, 'reconcile: cannot inspect sandbox network');
      }
    }
    return vanished;
  }

  private deps(): PodNetworkDeps {
    return { netns: this.netns, cni: this.cni, cache: this.cache, log: this.log };
  }

  private async fallbackConfig(): Promise<NetworkConfigList | undefined> {
    const res = await this.loader.get();
    return res.network ? applyPodCidr(res.network.config, this.podCidrs) : undefined;
  }
}
