// bench/streaming: the streaming server under load, crius next to containerd
// 1.6's own CRI streaming server in the same run — port-forward throughput
// (a large file from busybox httpd in the pod) and exec round-trip latency.
// Run after `npm run build`:  npx tsx bench/streaming/run.ts [mib=64] [fetches=3] [execs=30]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { containerConfig, podConfig } from '../../test/harness/pod.js';
import { SpdyTestClient } from '../../services/cri-gateway/src/streaming/testing/spdy-client.js';
import { summarize } from '../lib.mjs';
import { removeAllPods } from '../lib-cri.js';
import { compareLine, header, now, ratio } from '../report.js';
import { startScene, type Side } from '../setup.js';

const MIB = Number(process.argv[2] ?? 64);
const FETCHES = Number(process.argv[3] ?? 3);
const EXECS = Number(process.argv[4] ?? 30);
const EXEC_WARMUP = 3;
const PORT = 8080;
const STEP_TIMEOUT_MS = 120_000;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface BenchPod {
  podSandboxId: string;
  sleeper: string;
}

/** Rejects if `p` takes longer than `ms`, naming the step, so a stuck stream cannot hang the bench. */
function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The repo's SPDY test client (its header blocks end with a sync flush, as Go's reader needs). */
async function connectSpdy(url: string, protocol: string, flowControl = true): Promise<SpdyTestClient> {
  return SpdyTestClient.connect(url, { protocols: [protocol], flowControl });
}

/** One pod: busybox httpd serving `www` on :8080, and a sleep container to exec into. */
async function startPod(side: Side, image: string, www: string): Promise<BenchPod> {
  const d = side.driver;
  const pod = await podConfig(side.dir);
  const { podSandboxId } = await d.call('runPodSandbox', { config: pod });
  const httpd = containerConfig('httpd', image, ['busybox', 'httpd', '-f', '-p', String(PORT), '-h', '/www'], {
    mounts: [{ containerPath: '/www', hostPath: www, readonly: true }],
  });
  const { containerId: web } = await d.call('createContainer', { podSandboxId, config: httpd, sandboxConfig: pod });
  await d.call('startContainer', { containerId: web });
  const { containerId: sleeper } = await d.call('createContainer', { podSandboxId, config: containerConfig('sleeper', image, ['sleep', '3600']), sandboxConfig: pod });
  await d.call('startContainer', { containerId: sleeper });
  return { podSandboxId, sleeper };
}

/** PortForward → SPDY (portforward.k8s.io) → HTTP/1.0 GET /blob → last byte; returns the body and the time. */
async function fetchOnce(side: Side, pod: BenchPod, flowControl: boolean): Promise<{ body: Buffer; ms: number; error: string }> {
  const t0 = now();
  const { url } = await side.driver.call('portForward', { podSandboxId: pod.podSandboxId, port: [PORT] });
  const c = await connectSpdy(url, 'portforward.k8s.io', flowControl);
  try {
    const hdr = (t: string) => ({ streamtype: t, port: String(PORT), requestid: '0' });
    const error = c.openStream(hdr('error'));
    const data = c.openStream(hdr('data'));
    data.write('GET /blob HTTP/1.0\r\n\r\n');
    const response = await within(`${side.name} port-forward GET`, STEP_TIMEOUT_MS, data.ended);
    const ms = now() - t0;
    const sep = response.indexOf('\r\n\r\n');
    const status = response.subarray(0, Math.max(0, response.indexOf('\r\n'))).toString();
    if (!/^HTTP\/1\.[01] 200/.test(status)) throw new Error(`${side.name} port-forward: got "${status}" (${response.length} bytes)`);
    // Whatever reached the error stream by the data stream's end; nothing means no forwarding error.
    return { body: response.subarray(sep + 4), ms, error: error.text };
  } finally {
    c.destroy();
  }
}

/** Retries the first fetch until httpd listens (containers start asynchronously on both runtimes). */
async function warmFetch(side: Side, pod: BenchPod): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await fetchOnce(side, pod, true);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`${side.name}: httpd in the pod did not answer through port-forward`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function throughput(side: Side, pod: BenchPod, blobSha: string, bytes: number, flowControl: boolean): Promise<number[]> {
  const rates: number[] = [];
  for (let i = 0; i < FETCHES; i++) {
    const r = await fetchOnce(side, pod, flowControl);
    if (r.body.length !== bytes || sha(r.body) !== blobSha) {
      throw new Error(`${side.name} port-forward fetch ${i}: body of ${r.body.length} bytes, sha256 ${sha(r.body).slice(0, 12)}, wanted ${bytes} bytes ${blobSha.slice(0, 12)}`);
    }
    if (r.error) throw new Error(`${side.name} port-forward fetch ${i}: error stream said ${r.error}`);
    rates.push(bytes / (1024 * 1024) / (r.ms / 1000));
  }
  return rates;
}

/** Exec(true) → SPDY (v4.channel.k8s.io, error + stdout streams) → the status on the error stream. */
async function execOnce(side: Side, pod: BenchPod): Promise<number> {
  const t0 = now();
  const { url } = await side.driver.call('exec', { containerId: pod.sleeper, cmd: ['true'], stdout: true });
  const c = await connectSpdy(url, 'v4.channel.k8s.io');
  try {
    const error = c.openStream({ streamtype: 'error' });
    c.openStream({ streamtype: 'stdout' });
    const raw = (await within(`${side.name} exec status`, STEP_TIMEOUT_MS, error.ended)).toString();
    const ms = now() - t0;
    // v4 reports success as a Status object; an empty error stream is success in older protocols.
    if (raw !== '' && (JSON.parse(raw) as { status?: string }).status !== 'Success') throw new Error(`${side.name} exec true: status ${raw}`);
    return ms;
  } finally {
    c.destroy();
  }
}

async function latency(side: Side, pod: BenchPod): Promise<{ roundTrip: number[]; rpc: number[] }> {
  for (let i = 0; i < EXEC_WARMUP; i++) await execOnce(side, pod);
  side.driver.resetTimings();
  const roundTrip: number[] = [];
  for (let i = 0; i < EXECS; i++) roundTrip.push(await execOnce(side, pod));
  return { roundTrip, rpc: [...(side.driver.timings.get('Exec') ?? [])] };
}

const median = (xs: number[]) => summarize(xs).p50;
const fmtRate = (xs: number[]) => `${median(xs).toFixed(1).padStart(7)} MiB/s  (runs: ${xs.map((x) => x.toFixed(1)).join(', ')})`;

const bytes = MIB * 1024 * 1024;
const blob = randomBytes(bytes);
const blobSha = sha(blob);
const www = await mkdtemp(path.join(os.tmpdir(), 'crius-bench-www-'));
const scene = await startScene().catch(async (err) => {
  await rm(www, { recursive: true, force: true });
  throw err;
});
try {
  await writeFile(path.join(www, 'blob'), blob);
  const results = new Map<string, { rates: number[]; ratesNoFlow: number[]; roundTrip: number[]; rpc: number[] }>();
  for (const side of scene.sides) {
    const pod = await startPod(side, scene.images.busybox, www);
    await warmFetch(side, pod);
    const rates = await throughput(side, pod, blobSha, bytes, true);
    const ratesNoFlow = await throughput(side, pod, blobSha, bytes, false);
    const { roundTrip, rpc } = await latency(side, pod);
    results.set(side.name, { rates, ratesNoFlow, roundTrip, rpc });
    await removeAllPods(side.driver);
  }
  const cr = results.get('crius')!;
  const ct = results.get('containerd')!;

  console.log(`bench/streaming: crius streaming server vs containerd 1.6's CRI streaming server, runc, same busybox image, one pod each`);
  console.log('  client: the repo\'s Node SPDY/3.1 test client for both (flow control on, window updates every 32 KiB, header blocks sync-flushed), over loopback');
  console.log(`\nport-forward: ${MIB} MiB random file from busybox httpd in the pod, HTTP/1.0 GET, ${FETCHES} fetches after 1 warm-up, sha256 checked`);
  console.log('  each fetch timed from the PortForward RPC through SPDY upgrade and streams to the last body byte (one port-forward per fetch)');
  console.log(`  crius       ${fmtRate(cr.rates)}`);
  console.log(`  containerd  ${fmtRate(ct.rates)}`);
  const tp = median(cr.rates) / median(ct.rates);
  console.log(`  throughput ratio crius/containerd: ${tp.toFixed(2)}x (target ≥ 0.80x: ${tp >= 0.8 ? 'met' : 'NOT met'})`);
  console.log('  same, client without flow control (no SETTINGS, no WINDOW_UPDATE: a sender may ignore windows):');
  console.log(`  crius       ${fmtRate(cr.ratesNoFlow)}`);
  console.log(`  containerd  ${fmtRate(ct.ratesNoFlow)}`);
  console.log(`  throughput ratio crius/containerd: ${(median(cr.ratesNoFlow) / median(ct.ratesNoFlow)).toFixed(2)}x`);

  console.log(`\nexec round trip: Exec(cmd ["true"], stdout) → SPDY upgrade (v4.channel.k8s.io) → error + stdout streams → exit status, ${EXECS} after ${EXEC_WARMUP} warm-ups`);
  console.log('  ratio = crius / containerd (above 1: crius slower); "Exec RPC" is the CRI call alone, included in the round trip');
  console.log(header('containerd'));
  console.log(compareLine('Exec RPC', cr.rpc, ct.rpc));
  console.log(compareLine('round trip', cr.roundTrip, ct.roundTrip));
  console.log(`  round-trip ratio p50 ${ratio(median(cr.roundTrip), median(ct.roundTrip))}`);
} finally {
  await scene.stop();
  await rm(www, { recursive: true, force: true });
}
