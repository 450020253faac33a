// bench/lifecycle: a pod's whole life through CRI on crius and on containerd,
// same run, same image pulled beforehand — per-call and end-to-end latency,
// sequential and in parallel — then the memory the runtime itself uses to
// keep N pods running (one busybox `sleep` container each).
// Run after `npm run build`:  npx tsx bench/lifecycle/run.ts [pods] [parallel] [memoryPods]
import { containerConfig, podConfig } from '../../test/harness/pod.js';
import { pool, removeAllPods } from '../lib-cri.js';
import { listProcs, mb, sumMem, type MemGroup } from '../procs.js';
import { compareLine, header, now, ratio } from '../report.js';
import { startScene, type Scene, type Side } from '../setup.js';

const PODS = Number(process.argv[2] ?? 20);
const PARALLEL = Number(process.argv[3] ?? 10);
const MEMORY_PODS = Number(process.argv[4] ?? 50);
const WARMUP = 3;
const CALLS = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox'];

interface PhaseResult {
  calls: Map<string, number[]>;
  e2e: number[];
  wallMs: number;
}

/** RunPodSandbox → CreateContainer → StartContainer → StopContainer → RemoveContainer → StopPodSandbox → RemovePodSandbox. */
async function podLife(side: Side, image: string): Promise<number> {
  const d = side.driver;
  const pod = await podConfig(side.dir);
  const t0 = now();
  const { podSandboxId } = await d.call('runPodSandbox', { config: pod });
  const { containerId } = await d.call('createContainer', { podSandboxId, config: containerConfig('sleeper', image, ['sleep', '3600']), sandboxConfig: pod });
  await d.call('startContainer', { containerId });
  // timeout 0: straight to SIGKILL on both (sleep as PID 1 ignores SIGTERM anyway).
  await d.call('stopContainer', { containerId, timeout: 0 });
  await d.call('removeContainer', { containerId });
  await d.call('stopPodSandbox', { podSandboxId });
  await d.call('removePodSandbox', { podSandboxId });
  return now() - t0;
}

async function phase(side: Side, image: string, pods: number, concurrency: number): Promise<PhaseResult> {
  side.driver.resetTimings();
  const e2e: number[] = [];
  const t0 = now();
  await pool(pods, concurrency, async () => void e2e.push(await podLife(side, image)));
  const wallMs = now() - t0;
  return { calls: new Map(side.driver.timings), e2e, wallMs };
}

function printPhase(title: string, ours: PhaseResult, peer: PhaseResult): void {
  console.log(`\n${title}`);
  console.log(header('containerd'));
  for (const c of CALLS) console.log(compareLine(c, ours.calls.get(c) ?? [], peer.calls.get(c) ?? []));
  console.log(compareLine('end to end (pod)', ours.e2e, peer.e2e));
  const rate = (r: PhaseResult) => (r.e2e.length / r.wallMs) * 1000;
  console.log(
    `  wall ${(ours.wallMs / 1000).toFixed(2)} s vs ${(peer.wallMs / 1000).toFixed(2)} s;` +
      ` throughput ${rate(ours).toFixed(2)} vs ${rate(peer).toFixed(2)} pods/s (ratio of wall ${ratio(ours.wallMs, peer.wallMs)})`,
  );
}

/** The runtime's own processes, grouped; the pods' processes (pause, sleep) are reported apart, not summed. */
async function runtimeMemory(scene: Scene, side: Side): Promise<{ groups: MemGroup[]; pause: MemGroup }> {
  const procs = await listProcs();
  if (side.name === 'crius') {
    const daemons = scene.crius.daemonPids();
    const conmons = (await scene.crius.conmons(procs)).map((p) => p.pid);
    const pause = procs.filter((p) => p.comm === 'catatonit' && conmons.includes(p.ppid)).map((p) => p.pid);
    return {
      groups: [
        await sumMem('nats-server', daemons.filter((d) => d.name === 'nats').map((d) => d.pid)),
        await sumMem('node processes', daemons.filter((d) => d.name !== 'nats').map((d) => d.pid)),
        await sumMem('conmon', conmons),
      ],
      pause: await sumMem('pause (catatonit)', pause),
    };
  }
  const shims = (await scene.containerd.shims(procs)).map((p) => p.pid);
  const pause = procs.filter((p) => p.comm === 'catatonit' && shims.includes(p.ppid)).map((p) => p.pid);
  return {
    groups: [await sumMem('containerd', [scene.containerd.pid]), await sumMem('containerd-shim-runc-v2', shims)],
    pause: await sumMem('pause (catatonit)', pause),
  };
}

async function startPods(side: Side, image: string, n: number): Promise<void> {
  await pool(n, 5, async () => {
    const pod = await podConfig(side.dir);
    const { podSandboxId } = await side.driver.call('runPodSandbox', { config: pod });
    const { containerId } = await side.driver.call('createContainer', { podSandboxId, config: containerConfig('sleeper', image, ['sleep', '3600']), sandboxConfig: pod });
    await side.driver.call('startContainer', { containerId });
  });
}

const total = (gs: MemGroup[], key: 'rssKb' | 'pssKb') => gs.reduce((s, g) => s + g[key], 0);

async function memory(scene: Scene, side: Side): Promise<{ idle: MemGroup[]; loaded: MemGroup[]; pause: MemGroup }> {
  const idle = (await runtimeMemory(scene, side)).groups;
  await startPods(side, scene.images.busybox, MEMORY_PODS);
  const running = await side.driver.call('listContainers', { filter: { state: { state: 1 } } });
  if (running.containers.length !== MEMORY_PODS) throw new Error(`${side.name}: ${running.containers.length} containers running, wanted ${MEMORY_PODS}`);
  await new Promise((r) => setTimeout(r, 3000)); // let the daemons settle after the burst
  const loaded = await runtimeMemory(scene, side);
  await removeAllPods(side.driver);
  return { idle, loaded: loaded.groups, pause: loaded.pause };
}

function printMemory(name: string, m: Awaited<ReturnType<typeof memory>>): void {
  console.log(`  ${name}`);
  for (const g of m.loaded) console.log(`    ${`${g.label} ×${g.count}`.padEnd(32)} RSS ${mb(g.rssKb).padStart(9)}   PSS ${mb(g.pssKb).padStart(9)}`);
  console.log(`    ${'total'.padEnd(32)} RSS ${mb(total(m.loaded, 'rssKb')).padStart(9)}   PSS ${mb(total(m.loaded, 'pssKb')).padStart(9)}   (idle, 0 pods: RSS ${mb(total(m.idle, 'rssKb'))}, PSS ${mb(total(m.idle, 'pssKb'))})`);
  const perPod = (k: 'rssKb' | 'pssKb') => (total(m.loaded, k) - total(m.idle, k)) / MEMORY_PODS;
  console.log(`    per pod (total − idle) / ${MEMORY_PODS}: RSS ${mb(perPod('rssKb'))}, PSS ${mb(perPod('pssKb'))}`);
  console.log(`    not counted: ${m.pause.label} ×${m.pause.count}, RSS ${mb(m.pause.rssKb)} (pod processes, not runtime)`);
}

const scene = await startScene();
try {
  const [crius, ctrd] = scene.sides;
  const image = scene.images.busybox;
  for (const s of scene.sides) for (let i = 0; i < WARMUP; i++) await podLife(s, image);

  console.log(`bench/lifecycle: crius vs containerd 1.6 (CRI), runc, same busybox image pulled beforehand, ${WARMUP} warm-up pods each`);
  console.log('  each pod: RunPodSandbox → CreateContainer(sleep 3600) → StartContainer → StopContainer(timeout 0) → RemoveContainer → StopPodSandbox → RemovePodSandbox');
  console.log('  ratio = crius / containerd (above 1: crius slower)');
  const seq = [await phase(crius, image, PODS, 1), await phase(ctrd, image, PODS, 1)];
  printPhase(`sequential: ${PODS} pods one after another`, seq[0]!, seq[1]!);
  const par = [await phase(crius, image, PODS, PARALLEL), await phase(ctrd, image, PODS, PARALLEL)];
  printPhase(`parallel: ${PODS} pods, ${PARALLEL} at a time`, par[0]!, par[1]!);

  console.log(`\nmemory: ${MEMORY_PODS} running pods (one busybox sleep container each); VmRSS and PSS of the runtime's own processes`);
  const mCrius = await memory(scene, crius);
  printMemory('crius (nats-server + gateway + 5 services + one conmon per container)', mCrius);
  const mCtrd = await memory(scene, ctrd);
  printMemory('containerd (containerd + one shim per pod)', mCtrd);
  const perPod = (m: typeof mCrius, k: 'rssKb' | 'pssKb') => (total(m.loaded, k) - total(m.idle, k)) / MEMORY_PODS;
  console.log(
    `  ratio crius/containerd: total RSS ${ratio(total(mCrius.loaded, 'rssKb'), total(mCtrd.loaded, 'rssKb'))}, total PSS ${ratio(total(mCrius.loaded, 'pssKb'), total(mCtrd.loaded, 'pssKb'))};` +
      ` per pod RSS ${ratio(perPod(mCrius, 'rssKb'), perPod(mCtrd, 'rssKb'))}, PSS ${ratio(perPod(mCrius, 'pssKb'), perPod(mCtrd, 'pssKb'))}`,
  );
} finally {
  await scene.stop();
}
