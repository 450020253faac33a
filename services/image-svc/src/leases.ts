// Counted holds on content (blob digests, layer diffIDs) by running pulls and
// imports: what is held is never garbage, even before an image record names it.
// Owner: image-svc.
export class Leases {
  private readonly counts = new Map<string, number>();

  hold(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count > 0) this.counts.set(key, count);
    else this.counts.delete(key);
  }

  /** How many holders `key` has. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  has(key: string): boolean {
    return this.count(key) > 0;
  }

  keys(): IterableIterator<string> {
    return this.counts.keys();
  }
}
