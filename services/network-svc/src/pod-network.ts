// Attaches one sandbox to the pod network and detaches it again: record
// intent in the CNI cache, pin the netns, CNI ADD; and on teardown CNI DEL
// with what ADD used, unpin, forget. The caller (NetworkService) serialises
// calls per sandbox. Owned by network-svc.
import { CniExecutor, k8sCniArgs, type PodIdentity } from './cni-exec.js';
import { CniCache, type AttachmentRecord } from './cni-cache.js';
import { podInterfaces, podIps, toCurrentResult, type PodInterface } from './cni-result.js';
import type { AttachmentArgs, CapabilityArgs, NetworkConfigList } from './cni-types.js';
import type { NetnsManager } from './netns.js';

export const POD_IFNAME = 'eth0';

/** Minimal logger; a pino Logger fits. */
export interface NetLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: NetLogger = { info() {}, warn() {} };

export interface PodNetworkDeps {
  netns: NetnsManager;
  cni: CniExecutor;
  cache: CniCache;
  log: NetLogger;
}

export interface PodSetup {
  /** Path of the pinned namespace; '' for a host-network pod. */
  netnsPath: string;
  /** Pod IPs without prefix length, primary first. */
  ips: string[];
  interfaces: PodInterface[];
}

/** What the pod's records say about its addresses (only finished ADDs count). */
export function setupFromRecords(netnsPath: string, records: readonly AttachmentRecord[]): PodSetup {
  const out: PodSetup = { netnsPath, ips: [], interfaces: [] };
  for (const rec of records) {
    if (rec.state !== 'added') continue;
    const result = toCurrentResult(rec.result, `cached result of network "${rec.network}"`);
    out.ips.push(...podIps(result));
    out.interfaces.push(...podInterfaces(result));
  }
  return out;
}

function argsOf(rec: Pick<AttachmentRecord, 'containerId' | 'ifName' | 'cniArgs' | 'capabilityArgs'>, netnsPath: string): AttachmentArgs {
  return { containerId: rec.containerId, netnsPath, ifName: rec.ifName, cniArgs: rec.cniArgs, capabilityArgs: rec.capabilityArgs };
}

/**
 * Intent is recorded before anything exists, so a crash at any later point
 * leaves a record that teardown DELs. A failed ADD is rolled back at once.
 */
export async function attachPod(deps: PodNetworkDeps, pod: PodIdentity, network: NetworkConfigList, caps: CapabilityArgs): Promise<PodSetup> {
  const netnsPath = deps.netns.pathOf(pod.sandboxId);
  const base = {
    network: network.name,
    containerId: pod.sandboxId,
    ifName: POD_IFNAME,
    netnsPath,
    config: network,
    cniArgs: k8sCniArgs(pod),
    capabilityArgs: caps,
  };
  await deps.cache.put({ ...base, state: 'adding' });
  try {
    await deps.netns.create(pod.sandboxId);
    const raw = await deps.cni.addList(network, argsOf(base, netnsPath));
    // Validate before we rely on it, so a malformed result is rolled back too.
    toCurrentResult(raw, `CNI ADD result of network "${network.name}"`);
    const rec = await deps.cache.put({ ...base, state: 'added', result: raw });
    return setupFromRecords(netnsPath, [rec]);
  } catch (err) {
    await detachPod(deps, pod.sandboxId).catch((undoErr: unknown) =>
      deps.log.warn({ sandboxId: pod.sandboxId, err: undoErr }, 'rollback of failed pod network setup failed; teardown will retry'),
    );
    throw err;
  }
}

/**
 * DEL every cached attachment (reverse plugin order, prevResult when ADD had
 * finished), then unpin the netns and drop the records. With no record but
 * leftovers (a netns, unreadable records), DEL runs with `fallback`, the
 * current config. Any DEL failure keeps netns and records for a retry.
 */
export async function detachPod(
  deps: PodNetworkDeps,
  sandboxId: string,
  fallback?: () => Promise<NetworkConfigList | undefined>,
): Promise<void> {
  const { records, corrupt } = await deps.cache.list(sandboxId);
  for (const c of corrupt) deps.log.warn({ sandboxId, path: c.path, error: c.error }, 'unreadable CNI cache record; using current config for DEL');
  const pinned = await deps.netns.exists(sandboxId);
  // Plugins clean up what they can when the namespace is gone; they expect an empty CNI_NETNS then.
  const nsPath = pinned ? deps.netns.pathOf(sandboxId) : '';
  const failures: unknown[] = [];
  const del = async (list: NetworkConfigList, args: AttachmentArgs, prev: unknown, what: string): Promise<boolean> => {
    try {
      const skipped = await deps.cni.delList(list, args, prev);
      if (skipped.length) deps.log.warn({ sandboxId, network: list.name, plugins: skipped }, 'CNI DEL skipped plugins whose binary is missing');
      return true;
    } catch (err) {
      deps.log.warn({ sandboxId, network: list.name, err }, `CNI DEL failed (${what})`);
      failures.push(err);
      return false;
    }
  };

  for (const rec of records) {
    if (await del(rec.config, argsOf(rec, nsPath), rec.state === 'added' ? rec.result : undefined, rec.state)) await deps.cache.remove(rec);
  }
  if (records.length === 0 && (pinned || corrupt.length > 0)) {
    const list = fallback ? await fallback().catch(() => undefined) : undefined;
    if (list) {
      const args = { containerId: sandboxId, ifName: POD_IFNAME, cniArgs: [['IgnoreUnknown', '1'], ['K8S_POD_INFRA_CONTAINER_ID', sandboxId]] as Array<[string, string]>, capabilityArgs: {} };
      await del(list, argsOf(args, nsPath), undefined, 'no cache record, current config');
    } else {
      deps.log.warn({ sandboxId }, 'no CNI cache record and no network config: removing the namespace without CNI DEL');
    }
  }
  if (failures.length > 0) throw failures[0];
  await deps.netns.remove(sandboxId);
  await deps.cache.removeContainer(sandboxId);
}
