// The `crius up --demo` walk-through: the stack answers Version and Status,
// a busybox httpd image is built and imported (no registry needed), a pod
// runs it on the pod network, and its page is fetched from the pod IP and
// printed. The demo pod is removed when the stack stops.
import { mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { BusClient, cgroupHierarchies, type CriusConfig } from '@crius/common';
import { CreateContainerRequest, ListPodSandboxRequest, RunPodSandboxRequest } from '@crius/common/cri';
import { ImportImageRequest, ImportImageResponse } from '@crius/common/proto/image';
import { DEMO_REF, buildBusyboxLayout } from '@crius/image-svc';
import type { Stack } from '../launcher/stack.js';
import { callUnary, connectCri, type CriClient } from '../cri-client.js';
import { fetchStatus, formatStatus } from './status.js';

const DEMO_CGROUP = 'crius-demo';
const DEMO_LABEL = { app: 'crius-demo' };

function podConfig(cfg: CriusConfig) {
  return {
    metadata: { name: 'crius-demo', namespace: 'default', uid: `crius-demo-${process.pid}`, attempt: 0 },
    hostname: 'crius-demo',
    logDirectory: path.join(cfg.state.run_root, 'demo', 'logs'),
    labels: DEMO_LABEL,
    linux: { cgroupParent: `/${DEMO_CGROUP}`, securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } } },
  };
}

/** runc made the pod's cgroup parent in every hierarchy; nothing else uses it. */
async function removeDemoCgroups(): Promise<void> {
  for (const d of await cgroupHierarchies()) await rmdir(path.join(d, DEMO_CGROUP)).catch(() => undefined);
}

/** GET the page, retrying while httpd starts (bounded: about 5 s). */
async function fetchPage(ip: string, signal: AbortSignal): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50 && !signal.aborted; i++) {
    try {
      const res = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(2000) });
      return await res.text();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`could not fetch the demo page from ${ip}: ${(last as Error).message}`);
}

async function importDemoImage(cfg: CriusConfig, stack: Stack): Promise<void> {
  // image-svc must be able to read the archive: its own run dir is the one place it can.
  const dir = path.join(cfg.state.run_root, 'image');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'crius-demo-busybox.tar');
  await buildBusyboxLayout(file);
  const bus = new BusClient(stack.bus());
  await bus.call('image', 'ImportImage', ImportImageRequest, ImportImageResponse, { path: file, name: '' }, { deadline: Date.now() + 60_000 });
}

async function runWebPod(cri: CriClient, cfg: CriusConfig, signal: AbortSignal): Promise<{ podSandboxId: string; ip: string }> {
  const config = podConfig(cfg);
  await mkdir(config.logDirectory, { recursive: true });
  const { podSandboxId } = await callUnary(cri.runtime, cri.runtime.runPodSandbox, RunPodSandboxRequest.fromPartial({ config }), 60_000);
  signal.throwIfAborted();
  const { containerId } = await callUnary(
    cri.runtime,
    cri.runtime.createContainer,
    CreateContainerRequest.fromPartial({
      podSandboxId,
      config: { metadata: { name: 'web', attempt: 0 }, image: { image: DEMO_REF }, logPath: 'web.log', linux: { securityContext: { namespaceOptions: { pid: 1 } } } },
      sandboxConfig: config,
    }),
    60_000,
  );
  signal.throwIfAborted();
  await callUnary(cri.runtime, cri.runtime.startContainer, { containerId }, 30_000);
  const st = await callUnary(cri.runtime, cri.runtime.podSandboxStatus, { podSandboxId, verbose: false });
  return { podSandboxId, ip: st.status?.network?.ip ?? '' };
}

/**
 * Runs the demo; `signal` aborts it between steps (Ctrl-C while it runs).
 * Whatever it got to, removeDemoPods() undoes it.
 */
export async function runDemo(cfg: CriusConfig, stack: Stack, print: (line: string) => void, signal: AbortSignal): Promise<void> {
  const cri = connectCri(cfg.api.listen);
  try {
    const v = await callUnary(cri.runtime, cri.runtime.version, { version: 'v1' });
    print(`Version: ${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`);
    print(formatStatus(await fetchStatus(cri)));
    signal.throwIfAborted();
    await importDemoImage(cfg, stack);
    print(`Imported ${DEMO_REF}`);
    signal.throwIfAborted();
    const { podSandboxId, ip } = await runWebPod(cri, cfg, signal);
    print(`Pod crius-demo (${podSandboxId.slice(0, 13)}) runs busybox httpd at http://${ip}/ — its page:`);
    print(await fetchPage(ip, signal));
  } finally {
    cri.close();
  }
}

/**
 * Removes every demo pod (by its label, so a pod whose creation was cut
 * short by Ctrl-C goes too) and the demo's cgroup parent. Called before the
 * stack stops; the demo must have settled first.
 */
export async function removeDemoPods(cfg: CriusConfig): Promise<void> {
  const cri = connectCri(cfg.api.listen);
  try {
    const { items } = await callUnary(cri.runtime, cri.runtime.listPodSandbox, ListPodSandboxRequest.fromPartial({ filter: { labelSelector: DEMO_LABEL } }), 10_000);
    for (const p of items) await callUnary(cri.runtime, cri.runtime.removePodSandbox, { podSandboxId: p.id }, 30_000);
  } finally {
    cri.close();
  }
  await removeDemoCgroups();
}
