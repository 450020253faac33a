// Streams many small chunks (HTTP bodies, inflated tar data) into a file with
// few thread-pool round trips: chunks are gathered and written with one
// writev per batch. Awaiting a write per 16-64 KiB chunk cost more than the
// copying itself (image-svc blob ingest, storage-svc layer files).
import type { FileHandle } from 'node:fs/promises';

export const DEFAULT_WRITE_BATCH_BYTES = 1 << 20;

export class BatchedFileWriter {
  private batch: Uint8Array[] = [];
  private batched = 0;

  /**
   * @param position where the first byte goes; null writes at the file's current offset.
   * @param batchBytes bytes gathered before a writev.
   */
  constructor(
    private readonly fh: FileHandle,
    private position: number | null = null,
    private readonly batchBytes = DEFAULT_WRITE_BATCH_BYTES,
  ) {}

  /** Queues `chunk` (which must not change afterwards); writes once a batch is full. */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.batch.push(chunk);
    this.batched += chunk.byteLength;
    if (this.batched >= this.batchBytes) await this.flush();
  }

  /** Writes whatever is queued. */
  async flush(): Promise<void> {
    let parts = this.batch;
    this.batch = [];
    this.batched = 0;
    while (parts.length > 0) {
      let { bytesWritten } = await this.fh.writev(parts, this.position ?? undefined);
      if (this.position !== null) this.position += bytesWritten;
      // A short write leaves the rest for the next writev.
      while (parts.length > 0 && bytesWritten >= parts[0]!.byteLength) bytesWritten -= parts.shift()!.byteLength;
      if (bytesWritten > 0) parts = [parts[0]!.subarray(bytesWritten), ...parts.slice(1)];
    }
  }
}

/** Writes every chunk of `body` to `fh` from its current offset, in batches. */
export async function writeAll(fh: FileHandle, body: AsyncIterable<Uint8Array>): Promise<void> {
  const out = new BatchedFileWriter(fh);
  for await (const chunk of body) await out.write(chunk);
  await out.flush();
}
