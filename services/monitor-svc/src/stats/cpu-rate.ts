// monitor-svc stats: CPU usage rate (CRI usage_nano_cores) from successive cumulative samples.
// Owner: monitor-svc. Keeps the last sample per id (container or sandbox) in memory.
//
// kubelet takes usage_nano_cores from the runtime when it is set and only computes it
// itself when it is absent, so: first sample → no rate; a repeated or older sample
// (two callers asking within one sampling tick) → the last rate again; a counter that
// went backwards (cgroup recreated) → start over.

export interface CpuRateEntry {
  timestampNs: bigint;
  usageCoreNs: bigint;
  /** Rate computed at the last update, nano-cores; undefined until there were two samples. */
  nanoCores?: bigint;
}

export class CpuRateTracker {
  private readonly last = new Map<string, CpuRateEntry>();

  /**
   * Records a cumulative sample for `id` and returns its usage in nano-cores
   * (1e9 = one full core) since the previous sample, or undefined on the first one.
   */
  update(id: string, timestampNs: bigint, usageCoreNs: bigint): bigint | undefined {
    const prev = this.last.get(id);
    if (prev === undefined || usageCoreNs < prev.usageCoreNs) {
      this.last.set(id, { timestampNs, usageCoreNs });
      return undefined;
    }
    if (timestampNs <= prev.timestampNs) return prev.nanoCores;
    const nanoCores = ((usageCoreNs - prev.usageCoreNs) * 1_000_000_000n) / (timestampNs - prev.timestampNs);
    this.last.set(id, { timestampNs, usageCoreNs, nanoCores });
    return nanoCores;
  }

  /** The last stored sample of `id`, if any. */
  get(id: string): CpuRateEntry | undefined {
    return this.last.get(id);
  }

  forget(id: string): void {
    this.last.delete(id);
  }

  /** Drops the entries of ids no longer alive, so removed containers don't leak memory. */
  retainOnly(liveIds: Iterable<string>): void {
    const keep = new Set(liveIds);
    for (const id of this.last.keys()) if (!keep.has(id)) this.last.delete(id);
  }

  get size(): number {
    return this.last.size;
  }
}
