// bench/setup: the shared scene of the runtime benches — a loopback registry
// with busybox and a pause image, a fresh private crius stack and a private
// containerd, each with a CRI driver and the same images pulled beforehand.
import { startRegistry, type RunningRegistry } from '../test/fixtures/registry.js';
import { pushBaseImages, type BenchImages } from './images.js';
import { CriDriver } from './lib-cri.js';
import { startContainerd, type ContainerdPeer } from './peers/containerd.js';
import { startCrius, type CriusPeer } from './peers/crius.js';

export interface Side {
  name: 'crius' | 'containerd';
  /** Where this side's pod logs and cgroup names live (see podConfig). */
  dir: string;
  driver: CriDriver;
}

export interface Scene {
  registry: RunningRegistry;
  images: BenchImages;
  crius: CriusPeer;
  containerd: ContainerdPeer;
  sides: [Side, Side];
  stop(): Promise<void>;
}

/** Starts everything; whatever started is stopped again if a later step fails. */
export async function startScene(opts: { pullBusybox?: boolean } = {}): Promise<Scene> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((err) => console.error(`cleanup: ${(err as Error).message}`));
  };
  try {
    const registry = await startRegistry();
    stops.push(() => registry.stop());
    const images = await pushBaseImages(registry.url, registry.host);
    const crius = await startCrius();
    stops.push(() => crius.stop());
    const containerd = await startContainerd({ registryHost: registry.host, sandboxImage: images.pause });
    stops.push(() => containerd.stop());
    const sides: [Side, Side] = [
      { name: 'crius', dir: crius.dir, driver: new CriDriver(crius.socket) },
      { name: 'containerd', dir: containerd.dir, driver: new CriDriver(containerd.socket) },
    ];
    stops.push(async () => sides.forEach((s) => s.driver.close()));
    // containerd needs its sandbox image locally; pulled now so no timed call includes it.
    await sides[1].driver.call('pullImage', { image: { image: images.pause } });
    if (opts.pullBusybox ?? true) for (const s of sides) await s.driver.call('pullImage', { image: { image: images.busybox } });
    for (const s of sides) s.driver.resetTimings();
    return { registry, images, crius, containerd, sides, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
