// bench/network: pod network setup + teardown per pod on crius and on
// containerd, same run, same CNI plugins (bridge + host-local + portmap, each
// runtime on its own bridge and subnet): RunPodSandbox, StopPodSandbox and
// RemovePodSandbox of pods with no containers; plus the bare CNI plugins as a floor.
// Run after `npm run build`:  npx tsx bench/network/run.ts [pods]
import { podConfig } from '../../test/harness/pod.js';
import { compareLine, header, ms, now } from '../report.js';
import { startScene, type Side } from '../setup.js';
import { summarize } from '../lib.mjs';
import { startCniFloor, type CniFloor } from './cni-floor.js';

const PODS = Number(process.argv[2] ?? 30);
const WARMUP = 3;

interface Sample {
  run: number[];
  stop: number[];
  remove: number[];
  total: number[];
}

async function measure(side: Side, pods: number): Promise<Sample> {
  const out: Sample = { run: [], stop: [], remove: [], total: [] };
  for (let i = 0; i < pods; i++) {
    const pod = await podConfig(side.dir);
    const t0 = now();
    const { podSandboxId } = await side.driver.call('runPodSandbox', { config: pod });
    const t1 = now();
    const st = await side.driver.call('podSandboxStatus', { podSandboxId });
    if (!st.status?.network?.ip) throw new Error(`${side.name}: pod ${podSandboxId} has no IP`);
    const t2 = now();
    await side.driver.call('stopPodSandbox', { podSandboxId });
    const t3 = now();
    await side.driver.call('removePodSandbox', { podSandboxId });
    const t4 = now();
    out.run.push(t1 - t0);
    out.stop.push(t3 - t2);
    out.remove.push(t4 - t3);
    out.total.push(t1 - t0 + (t4 - t2));
  }
  return out;
}

async function floor(cni: CniFloor, pods: number): Promise<{ setup: number[]; teardown: number[]; total: number[] }> {
  const out = { setup: [] as number[], teardown: [] as number[], total: [] as number[] };
  for (let i = 0; i < pods; i++) {
    const { setupMs, teardownMs } = await cni.cycle();
    out.setup.push(setupMs);
    out.teardown.push(teardownMs);
    out.total.push(setupMs + teardownMs);
  }
  return out;
}

const scene = await startScene({ pullBusybox: false });
const cni = await startCniFloor().catch(async (err) => {
  await scene.stop();
  throw err;
});
try {
  const [crius, ctrd] = scene.sides;
  for (const s of scene.sides) await measure(s, WARMUP);
  await floor(cni, WARMUP);
  const a = await measure(crius, PODS);
  const b = await measure(ctrd, PODS);
  const f = await floor(cni, PODS);

  console.log(`bench/network: ${PODS} pods with no containers, one after another, ${WARMUP} warm-up pods each; ratio = crius / containerd`);
  console.log('  Both run the same CNI chain (bridge + host-local + portmap, ipMasq on), each on its own bridge and /24.');
  console.log('  crius RunPodSandbox      = netns create+pin, CNI ADD, pin IPC/UTS namespaces, hostname/resolv.conf/hosts/shm; no pause process');
  console.log('  containerd RunPodSandbox = netns create+pin, CNI ADD, start a shim and the pause container (runc create+start)');
  console.log('  StopPodSandbox           = CNI DEL + netns release (containerd also stops the pause container)');
  console.log('  RemovePodSandbox         = records, pod dirs (containerd also deletes the pause container and its snapshot)');
  console.log(header('containerd'));
  console.log(compareLine('RunPodSandbox', a.run, b.run));
  console.log(compareLine('StopPodSandbox', a.stop, b.stop));
  console.log(compareLine('RemovePodSandbox', a.remove, b.remove));
  console.log(compareLine('setup + teardown', a.total, b.total));
  const fs = summarize(f.setup);
  const ft = summarize(f.teardown);
  const fa = summarize(f.total);
  console.log(`  floor: bare CNI plugins by hand (ip netns add + ADD chain | DEL chain + ip netns del), same plugins, a third bridge:`);
  console.log(`    setup p50 ${ms(fs.p50)} p95 ${ms(fs.p95)}   teardown p50 ${ms(ft.p50)} p95 ${ms(ft.p95)}   total p50 ${ms(fa.p50)} p95 ${ms(fa.p95)}`);
} finally {
  await cni.stop();
  await scene.stop();
}
