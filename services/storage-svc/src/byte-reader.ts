// Pull-style reader over an async byte stream: exact reads, bounded takes, skips. Owner: storage-svc.
// Used by the tar reader so it can ask for "512 bytes" or "the next N bytes" without buffering a layer.
import { InvalidArgumentError } from '@crius/common';

export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /**
   * Reads exactly n bytes. Returns null at a clean end (no byte left) unless `required`;
   * a stream that ends in the middle is a truncated tar.
   */
  async readExact(n: number, required = false): Promise<Buffer | null> {
    while (this.pending.length < n && (await this.pull()));
    if (this.pending.length === 0 && n > 0 && !required) return null;
    if (this.pending.length < n) throw new InvalidArgumentError(`tar: stream truncated (wanted ${n} bytes, got ${this.pending.length})`);
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** Yields the next n bytes in chunks as they arrive. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.pull())) {
        throw new InvalidArgumentError(`tar: stream truncated (${left} bytes of entry data missing)`);
      }
      const part = this.pending.subarray(0, Math.min(left, this.pending.length));
      this.pending = this.pending.subarray(part.length);
      left -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) void _;
  }

  /** Consumes the rest of the stream (so a digest over it sees every byte). */
  async drain(): Promise<void> {
    this.pending = Buffer.alloc(0);
    while (await this.pull()) this.pending = Buffer.alloc(0);
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.pending = this.pending.length === 0 ? r.value : Buffer.concat([this.pending, r.value]);
    return true;
  }
}
