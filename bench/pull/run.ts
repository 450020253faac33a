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

const REPEATS = Number(process.argv[2] ?? 3);
const LAYERS = Number(process.argv[3] ?? 5);
const MB_PER_LAYER = Number(process.argv[4] ?? 40);

interface Pulled {
  ms: number;
  /** crius only: storage-svc's EnsureLayers (unpack of all layers), from its log. */
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
async function coldPull(start: () => Promise<{ socket: string; dir: string; stop(): Promise<void> }>, image: string, isCrius: boolean): Promise<Pulled> {
  const peer = await start();
  const driver = new CriDriver(peer.socket, 600_000);
  try {
    const t0 = now();
    const res = await driver.call('pullImage', { image: { image } });
    const took = now() - t0;
    if (!res.imageRef) throw new Error(`pull of ${image} on ${peer.socket} returned no image ref`);
    return { ms: took, unpackMs: isCrius ? await criusUnpackMs(peer.dir) : undefined };
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

  const crius: number[] = [];
  const ctrd: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const c = await coldPull(() => startCrius(), image, true);
    crius.push(c.ms);
    ctrd.push((await coldPull(() => startContainerd({ registryHost: registry.host, sandboxImage: pause }), image, false)).ms);
    const split = c.unpackMs !== undefined ? ` (of which storage-svc unpack ${ms(c.unpackMs).trim()})` : '';
    console.log(`  #${i + 1}: crius ${ms(crius[i]!)}${split}   containerd ${ms(ctrd[i]!)}`);
  }
  const a = summarize(crius);
  const b = summarize(ctrd);
  const rate = (t: number) => `${(mib / (t / 1000)).toFixed(0)} MiB/s`;
  console.log(`  median: crius ${ms(a.p50)} (${rate(a.p50)})   containerd ${ms(b.p50)} (${rate(b.p50)})   ratio crius/containerd ${ratio(a.p50, b.p50)}`);
  console.log(`  best:   crius ${ms(Math.min(...crius))}   containerd ${ms(Math.min(...ctrd))}   ratio ${ratio(Math.min(...crius), Math.min(...ctrd))}`);
} finally {
  await registry.stop();
}
