// RunPodSandbox: network (network-svc), pinned IPC/UTS namespaces, the pod's
// hostname/hosts/resolv.conf and /dev/shm ([runtime] shm_size), then the durable record. Each step
// pushes its undo, so a failure anywhere leaves nothing behind. A retried
// request whose twin finished after the caller gave up gets that sandbox.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AlreadyExistsError, InvalidArgumentError, parseSize, writeFileAtomic, type HandlerContext } from '@crius/common';
import { PodSandboxConfig, type RunPodSandboxRequest } from '@crius/common/cri';
import { PodNetworkRequest, SetUpPodRequest, SetUpPodResponse, TearDownPodResponse } from '@crius/common/proto/network';
import { CleanupStack } from '../cleanup.js';
import type { Runtime } from '../runtime.js';
import { RECORD_VERSION, type SandboxRecord } from '../store/records.js';
import { hostsFile, resolvConf, validHostname } from './files.js';
import { sandboxName } from './names.js';
import { startPause, stopPause } from './pause.js';
import { ContainerEventType, publishEvent } from '../events.js';

/** CRI NamespaceMode values. */
export const NS = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;

export function resolveHandler(rt: Runtime, requested: string, what: string): string {
  const handler = requested || rt.deps.config.runtime.default_handler;
  if (!rt.deps.config.runtime.handlers[handler]) {
    const known = Object.keys(rt.deps.config.runtime.handlers).join(', ');
    throw new InvalidArgumentError(`${what}: unknown runtime handler "${handler}" (configured: ${known})`);
  }
  return handler;
}

export async function runPodSandbox(rt: Runtime, req: RunPodSandboxRequest, ctx: HandlerContext): Promise<string> {
  await rt.reconciled;
  const cfg = req.config!;
  const md = cfg.metadata!;
  const what = `RunPodSandbox ${md.namespace}/${md.name}`;
  const handler = resolveHandler(rt, req.runtimeHandler, what);
  const ns = cfg.linux?.securityContext?.namespaceOptions;
  const hostNetwork = ns?.network === NS.NODE;
  // No hostname: the node's, with or without host network, as containerd
  // does (CRI-O uses the node's only for host network, else the id's first
  // 12 characters). Never the pod name: it need not be a valid hostname.
  const hostname = cfg.hostname || os.hostname();
  if (!validHostname(hostname)) throw new InvalidArgumentError(`${what}: hostname ${JSON.stringify(hostname)} cannot be a hostname (1 to 64 bytes, no spaces or control characters)`);
  const sc = cfg.linux?.securityContext;
  if (sc?.runAsGroup && !sc.runAsUser) {
    throw new InvalidArgumentError(`${what}: linux.security_context.run_as_group ${sc.runAsGroup.value} is set without run_as_user`);
  }
  const name = sandboxName(md);

  return rt.locks.run(`name:${name}`, async () => {
    const existing = rt.sandboxes.idForName(name);
    if (existing !== undefined) {
      if (rt.claimTwin(existing)) return existing;
      throw new AlreadyExistsError(`${what}: pod sandbox name "${name}" is already in use by sandbox ${existing}`);
    }
    const id = randomBytes(32).toString('hex');
    rt.sandboxes.reserveName(name, id);
    const cleanup = new CleanupStack(ctx.log);
    cleanup.push('release name', async () => rt.sandboxes.releaseName(name, id));
    try {
      const record = await createSandbox(rt, { id, name, cfg, handler, hostname, hostNetwork, hostIpc: ns?.ipc === NS.NODE }, cleanup, ctx);
      await rt.sandboxes.put(record);
      cleanup.commit();
      publishEvent(rt, ContainerEventType.CONTAINER_CREATED_EVENT, id, id);
      publishEvent(rt, ContainerEventType.CONTAINER_STARTED_EVENT, id, id);
      rt.noteIfCallerGone(id, ctx);
      return id;
    } catch (err) {
      await cleanup.unwind();
      throw err;
    }
  });
}

interface SandboxPlan {
  id: string;
  name: string;
  cfg: PodSandboxConfig;
  handler: string;
  hostname: string;
  hostNetwork: boolean;
  hostIpc: boolean;
}

async function createSandbox(rt: Runtime, p: SandboxPlan, cleanup: CleanupStack, ctx: HandlerContext): Promise<SandboxRecord> {
  const { bus, os: sos } = rt.deps;
  const md = p.cfg.metadata!;
  const dir = rt.sandboxRunDir(p.id);
  await mkdir(dir, { recursive: true, mode: 0o711 });
  cleanup.push('remove sandbox dir', () => rm(dir, { recursive: true, force: true }));

  let netnsPath = '';
  let ips: string[] = [];
  if (!p.hostNetwork) {
    const net = await bus.call(
      'network',
      'SetUpPod',
      SetUpPodRequest,
      SetUpPodResponse,
      SetUpPodRequest.fromPartial({
        sandboxId: p.id,
        name: md.name,
        namespace: md.namespace,
        uid: md.uid,
        portMappings: p.cfg.portMappings,
        annotations: p.cfg.annotations,
        cgroupParent: p.cfg.linux?.cgroupParent ?? '',
      }),
      { deadline: ctx.deadline, requestId: ctx.requestId },
    );
    cleanup.push('tear down pod network', () =>
      bus.call('network', 'TearDownPod', PodNetworkRequest, TearDownPodResponse, { sandboxId: p.id }, { requestId: ctx.requestId }),
    );
    netnsPath = net.netnsPath;
    ips = net.ips;
  }

  const ipcPath = p.hostIpc ? '' : path.join(rt.pinDir, `${p.id}.ipc`);
  const utsPath = p.hostNetwork ? '' : path.join(rt.pinDir, `${p.id}.uts`);
  cleanup.push('unpin namespaces', async () => {
    for (const f of [ipcPath, utsPath]) if (f) await sos.unpin(f);
  });
  await sos.pinNamespaces({ ipc: ipcPath || undefined, uts: utsPath || undefined }, p.hostname);

  const hostnamePath = path.join(dir, 'hostname');
  const hostsPath = path.join(dir, 'hosts');
  const resolvPath = path.join(dir, 'resolv.conf');
  await writeFileAtomic(hostnamePath, `${p.hostname}\n`);
  await writeFileAtomic(hostsPath, p.hostNetwork ? await readFile('/etc/hosts', 'utf8') : hostsFile(p.hostname, ips));
  await writeFileAtomic(resolvPath, resolvConf(p.cfg.dnsConfig, await readFile('/etc/resolv.conf', 'utf8').catch(() => '')));

  const shmPath = p.hostIpc ? '/dev/shm' : path.join(dir, 'shm');
  if (!p.hostIpc) {
    cleanup.push('unmount shm', () => sos.unmount(shmPath));
    await sos.mountShm(shmPath, parseSize(rt.deps.config.runtime.shm_size));
  }

  const record: SandboxRecord = {
    version: RECORD_VERSION,
    id: p.id,
    name: p.name,
    config: Buffer.from(PodSandboxConfig.encode(p.cfg).finish()).toString('base64'),
    state: 'ready',
    createdAt: (BigInt(Date.now()) * 1_000_000n).toString(),
    runtimeHandler: p.handler,
    netnsPath,
    ipcPath,
    utsPath,
    shmPath,
    resolvPath,
    hostsPath,
    hostnamePath,
    cgroupParent: p.cfg.linux?.cgroupParent || '/crius',
    ips,
  };
  // One PID namespace for the whole pod: a pause process holds it.
  const pidMode = p.cfg.linux?.securityContext?.namespaceOptions?.pid ?? NS.CONTAINER;
  if (pidMode === NS.POD) {
    cleanup.push('stop pause process', () => stopPause(rt, record));
    record.pause = await startPause(rt, record, p.cfg, p.hostname, ctx.log);
  }
  return record;
}
