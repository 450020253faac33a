// A client that reads nothing must stall the backend's producer instead of
// growing the gateway's memory; one that reads fast must not be throttled.
// The producer (testing/local-backend.ts) writes to stdout as fast as
// write() lets it and counts what it got rid of.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StreamingServer } from './server.js';
import { LocalBackend, PRODUCER, type SessionRecord } from './testing/local-backend.js';
import { SpdyTestClient } from './testing/spdy-client.js';
import type { ExecSpec } from './backend.js';

const MiB = 1024 * 1024;
// Loopback socket buffers (both ends, autotuned) can absorb a few MiB; past
// that everything must stay in the producer.
const KERNEL_AND_US = 24 * MiB;

let backend: LocalBackend;
let server: StreamingServer;
const cleanup: Array<() => void> = [];

beforeAll(async () => {
  backend = new LocalBackend();
  server = new StreamingServer({ backend, port: 0 });
  await server.start();
});
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});
afterAll(async () => {
  await server.stop();
});

const producer: ExecSpec = { containerId: 'ctr-p', cmd: [PRODUCER], tty: false, stdin: false, stdout: true, stderr: false };

/** Waits until the producer made no progress for a while, returns what it produced. */
async function stalled(record: SessionRecord, quietMs = 400, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    if (record.produced === last && record.pushedBack > 0) return last;
    if (Date.now() > deadline) throw new Error(`producer never stalled: ${record.produced} bytes`);
    last = record.produced;
  }
}

async function spdyProducer(opts: { flowControl?: boolean; grantWindow?: boolean }) {
  const client = await SpdyTestClient.connect(server.getUrl('exec', producer), { protocols: ['v4.channel.k8s.io'], ...opts });
  cleanup.push(() => client.destroy());
  const error = client.openStream({ streamtype: 'error' });
  const stdout = client.openStream({ streamtype: 'stdout' });
  await Promise.all([error.replied, stdout.replied]);
  const record = backend.sessions.at(-1)!;
  return { client, stdout, record };
}

describe('SPDY backpressure', () => {
  it('stalls the producer when a client without flow control stops reading, and resumes it', async () => {
    const { client, record } = await spdyProducer({});
    client.socket.pause(); // like spdystream, it has no windows: only TCP pushes back
    const produced = await stalled(record);
    expect(produced).toBeLessThan(KERNEL_AND_US);
    client.socket.resume();
    // A reading client gets data at full speed again.
    await new Promise((r) => setTimeout(r, 1000));
    expect(record.produced - produced).toBeGreaterThan(4 * MiB);
    client.destroy();
    // The producer may notice its stdout closing first; the abort must follow.
    await waitUntil(() => record.aborted);
    await record.done;
  });

  it('stops at the 64 KiB window for a flow-controlling client that grants nothing', async () => {
    const { client, stdout, record } = await spdyProducer({ flowControl: true, grantWindow: false });
    const produced = await stalled(record);
    expect(stdout.received).toBe(64 * 1024);
    // Window + the stream's write buffer + one chunk in hand: far below a MiB.
    expect(produced).toBeLessThan(MiB);
    // Granting window lets exactly that much more through.
    client.send({ type: 'window_update', streamId: stdout.id, delta: 100_000 });
    client.send({ type: 'window_update', streamId: 0, delta: 100_000 });
    await waitUntil(() => stdout.received === 64 * 1024 + 100_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(stdout.received).toBe(64 * 1024 + 100_000);
  });

  it('does not throttle a flow-controlling client that reads as fast as it can', async () => {
    const { stdout, record } = await spdyProducer({ flowControl: true });
    await new Promise((r) => setTimeout(r, 1000));
    expect(stdout.received).toBeGreaterThan(4 * MiB);
    expect(record.produced - stdout.received).toBeLessThan(MiB);
  });
});

describe('WebSocket backpressure', () => {
  it('stalls the producer while the client does not read, and resumes it', async () => {
    const ws = new WebSocket(server.getUrl('exec', producer).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    cleanup.push(() => ws.terminate());
    let received = 0;
    ws.on('message', (m: Buffer) => (received += m.length));
    await new Promise((r) => ws.once('open', r));
    ws.pause();
    const record = backend.sessions.at(-1)!;
    const produced = await stalled(record);
    expect(produced).toBeLessThan(KERNEL_AND_US);
    ws.resume();
    await new Promise((r) => setTimeout(r, 1000));
    expect(record.produced - produced).toBeGreaterThan(4 * MiB);
    expect(received).toBeGreaterThan(4 * MiB);
    ws.terminate();
    // The producer may notice its stdout closing first; the abort must follow.
    await waitUntil(() => record.aborted);
    await record.done;
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
