// CRI LinuxContainerResources → OCI linux.resources, and the cgroupsPath for
// the cgroupfs and systemd managers. Owned by runtime-svc/spec; pure.
// (oom_score_adj is a process field: see process.ts.)
import path from 'node:path';
import { InvalidArgumentError } from '@crius/common';
import type { LinuxContainerResources } from '@crius/common/cri';
import type { OciResources } from './oci-types.js';

export type CgroupManager = 'cgroupfs' | 'systemd';

export interface ResourceFacts {
  cgroupVersion: 1 | 2;
  /** pids.limit for every container; undefined or <= 0 = unlimited. */
  defaultPidsLimit?: number;
  /** False on cgroup v1 hosts without memory.memsw.* (swap accounting off). */
  swapSupported?: boolean;
}

function num(v: bigint): number {
  return Number(v);
}

/** linux.resources without devices (see devices.ts for the device rules). */
export function buildResources(
  r: LinuxContainerResources | undefined,
  facts: ResourceFacts,
  warnings: string[],
): OciResources {
  const out: OciResources = {};
  if (r) {
    const cpu: NonNullable<OciResources['cpu']> = {};
    if (r.cpuShares > 0n) cpu.shares = num(r.cpuShares);
    if (r.cpuQuota !== 0n) cpu.quota = num(r.cpuQuota);
    if (r.cpuPeriod > 0n) cpu.period = num(r.cpuPeriod);
    if (r.cpusetCpus !== '') cpu.cpus = r.cpusetCpus;
    if (r.cpusetMems !== '') cpu.mems = r.cpusetMems;
    if (Object.keys(cpu).length > 0) out.cpu = cpu;

    if (r.memoryLimitInBytes > 0n) {
      const limit = num(r.memoryLimitInBytes);
      out.memory = { limit };
      const swapWanted = r.memorySwapLimitInBytes > 0n ? num(r.memorySwapLimitInBytes) : limit;
      // OCI swap is memory+swap; equal to the limit means "no swap", as CRI-O sets it.
      if (facts.swapSupported !== false) out.memory.swap = swapWanted;
      else if (r.memorySwapLimitInBytes > 0n) warnings.push('swap accounting is off on this host; memory_swap_limit_in_bytes ignored');
    }

    if (r.hugepageLimits.length > 0) {
      out.hugepageLimits = r.hugepageLimits.map((h) => {
        if (h.pageSize === '') throw new InvalidArgumentError('hugepage limit without page_size');
        return { pageSize: h.pageSize, limit: num(h.limit) };
      });
    }

    const unified = Object.entries(r.unified ?? {});
    if (unified.length > 0) {
      if (facts.cgroupVersion === 2) out.unified = Object.fromEntries(unified);
      else warnings.push(`unified cgroup settings ignored on cgroup v1: ${unified.map(([k]) => k).join(', ')}`);
    }
  }
  if (facts.defaultPidsLimit !== undefined && facts.defaultPidsLimit > 0) {
    out.pids = { limit: facts.defaultPidsLimit };
  }
  return out;
}

export const CGROUP_PREFIX = 'crius';

/**
 * cgroupfs: "<parent>/<id>" (parent absolute, default "/crius");
 * systemd: "<parent slice>:crius:<id>" (runc makes crius-<id>.scope).
 */
export function cgroupsPath(manager: CgroupManager, parent: string, id: string): string {
  if (manager === 'systemd') {
    // kubelet sends the slice name; accept a path to it too.
    const slice = parent === '' ? 'system.slice' : path.posix.basename(parent);
    if (!slice.endsWith('.slice')) {
      throw new InvalidArgumentError(`cgroup parent "${parent}" is not a systemd slice (the systemd cgroup manager is in use)`);
    }
    return `${slice}:${CGROUP_PREFIX}:${id}`;
  }
  const base = parent === '' ? `/${CGROUP_PREFIX}` : parent;
  if (!base.startsWith('/')) {
    throw new InvalidArgumentError(`cgroup parent "${parent}" is not an absolute path (the cgroupfs manager is in use)`);
  }
  if (base.endsWith('.slice')) {
    throw new InvalidArgumentError(`cgroup parent "${parent}" is a systemd slice but the cgroupfs manager is in use`);
  }
  return path.posix.join(base, id);
}
