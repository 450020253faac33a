// bench/pull: cold PullImage of a large multi-layer image from the loopback
// registry on crius and on containerd, same run, alternating, each repetition
// on a fresh stack / fresh containerd root (empty content store and layers).
// Run after `npm run build`:  npx tsx bench/pull/run.ts [repeats] [layers] [mbPerLayer]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startRegistry } from '../../test/fixtures/registry.js';
import { pushImage } from '../../test/fixtures/oci-image.js';
import { buildBigImage, buildPauseImage, imageBytes } from '../images.js';
import { CriDriver } from '../lib-cri.js';
import { summarize } from '../lib.mjs';
import { startContainerd } from '../peers/containerd.js';
import { startCrius } from '../peers/crius.js';
import { ms, now, ratio } from '../report.js';
import { totalCpuMs } from '../procs.js';

const REPEATS = Number(process.argv[2] ?? 5);
const LAYERS = Number(process.argv[3] ?? 5);
const MB_PER_LAYER = Number(process.argv[4] ?? 40);

interface Pulled {
  ms: number;
  /** CPU used by the runtime's daemons during the pull (crius: every service and nats-server). */
  cpu: { user: number; system: number };
  /** crius only: storage-svc's last EnsureLayers (the last layer's unpack), from its log. */
  unpackMs?: number;
}

/** The duration storage-svc logged for its last EnsureLayers call (info level "served" line). */
async function criusUnpackMs(dir: string): Promise<number | undefined> {
  const log = await readFile(path.join(dir, 'run', 'logs', 'storage-svc.log'), 'utf8').catch(() => '');
  const lines = log.split('\n').filter((l) => l.includes('"method":"EnsureLayers"'));
  const last = lines.at(-1);
  return last ? (JSON.parse(last) as { ms?: number }).ms : undefined;
}

/** One cold pull on a runtime started just for it; the runtime is stopped (and its root removed) after. */
async function coldPull(start: () => Promise<{ socket: string; dir: string; pids(): number[]; stop(): Promise<void> }>, image: string, isCrius: boolean): Promise<Pulled> {
  const peer = await start();
  const driver = new CriDriver(peer.socket, 600_000);
  try {
    const cpu0 = await totalCpuMs(peer.pids());
    const t0 = now();
    const res = await driver.call('pullImage', { image: { image } });
    const took = now() - t0;
    const cpu1 = await totalCpuMs(peer.pids());
    if (!res.imageRef) throw new Error(`pull of ${image} on ${peer.socket} returned no image ref`);
    const cpu = { user: cpu1.user - cpu0.user, system: cpu1.system - cpu0.system };
    return { ms: took, cpu, unpackMs: isCrius ? await criusUnpackMs(peer.dir) : undefined };
  } finally {
    driver.close();
    await peer.stop();
  }
}

const registry = await startRegistry();
try {
  const t0 = now();
  const big = await buildBigImage(LAYERS, MB_PER_LAYER);
  await pushImage(registry.url, 'bench/big', '1', big);
  await pushImage(registry.url, 'bench/pause', '1', await buildPauseImage());
  const image = `${registry.host}/bench/big:1`;
  const pause = `${registry.host}/bench/pause:1`;
  const mib = imageBytes(big) / 1024 / 1024;
  console.log(`bench/pull: ${image}, ${LAYERS} layers × ${MB_PER_LAYER} MiB random data (gzip -1), ${mib.toFixed(1)} MiB compressed; built+pushed in ${((now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  cold PullImage (download, verify, unpack to overlay layers) on a fresh stack / fresh containerd root each time, ${REPEATS} repetitions each, alternating`);

  const pullCrius = () => coldPull(async () => {
    const peer = await startCrius();
    return { ...peer, pids: () => peer.daemonPids().map((d) => d.pid) };
  }, image, true);
  const pullContainerd = () => coldPull(async () => {
    const peer = await startContainerd({ registryHost: registry.host, sandboxImage: pause });
    return { ...peer, pids: () => [peer.pid] };
  }, image, false);
  // One untimed pull each first: the first large write burst after building the image
  // costs the kernel far more (page allocation) than later ones, whoever makes it.
  await pullCrius();
  await pullContainerd();
  const crius: number[] = [];
  const ctrd: number[] = [];
  const cpuUse = { crius: [] as number[], containerd: [] as number[] };
  for (let i = 0; i < REPEATS; i++) {
    // Alternate who goes first, so neither always inherits the other's page-cache churn.
    let c: Pulled;
    let d: Pulled;
    if (i % 2 === 0) {
      c = await pullCrius();
      d = await pullContainerd();
    } else {
      d = await pullContainerd();
      c = await pullCrius();
    }
    crius.push(c.ms);
    ctrd.push(d.ms);
    cpuUse.crius.push(c.cpu.user + c.cpu.system);
    cpuUse.containerd.push(d.cpu.user + d.cpu.system);
    const split = c.unpackMs !== undefined ? ` (last layer's unpack ${ms(c.unpackMs).trim()})` : '';
    const cpu = (p: Pulled) => `cpu ${(p.cpu.user + p.cpu.system).toFixed(0)} ms (sys ${p.cpu.system.toFixed(0)})`;
    console.log(`  #${i + 1}: crius ${ms(c.ms)}${split}, ${cpu(c)}   containerd ${ms(d.ms)}, ${cpu(d)}`);
  }
  const a = summarize(crius);
  const b = summarize(ctrd);
  const rate = (t: number) => `${(mib / (t / 1000)).toFixed(0)} MiB/s`;
  console.log(`  median: crius ${ms(a.p50)} (${rate(a.p50)})   containerd ${ms(b.p50)} (${rate(b.p50)})   ratio crius/containerd ${ratio(a.p50, b.p50)}`);
  const cpuA = summarize(cpuUse.crius).p50;
  const cpuB = summarize(cpuUse.containerd).p50;
  console.log(`  cpu (daemons, median): crius ${cpuA.toFixed(0)} ms   containerd ${cpuB.toFixed(0)} ms   ratio ${ratio(cpuA, cpuB)}`);
  console.log(`  best:   crius ${ms(Math.min(...crius))}   containerd ${ms(Math.min(...ctrd))}   ratio ${ratio(Math.min(...crius), Math.min(...ctrd))}`);
} finally {
  await registry.stop();
}
