// CreateContainer: image config (image-svc), rootfs (storage-svc), OCI spec,
// conmon → `runtime create`, then the durable record. Every step pushes its
// undo; a retried create whose twin finished after the caller gave up gets
// that container.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, writeFileAtomic, type HandlerContext } from '@crius/common';
import { ContainerConfig, LinuxContainerResources, NamespaceMode, type CreateContainerRequest } from '@crius/common/cri';
import { ImageConfigRequest, ImageConfigResponse } from '@crius/common/proto/image';
import { CreateRootfsRequest, CreateRootfsResponse, RemoveRootfsResponse, RootfsRequest } from '@crius/common/proto/storage';
import { CleanupStack } from '../cleanup.js';
import { startConmon } from '../os/conmon.js';
import { placeInCgroup, removeCgroup } from '../os/cgroups.js';
import type { Runtime } from '../runtime.js';
import { containerName } from '../sandbox/names.js';
import { generateContainerSpec, ociJson } from '../spec/index.js';
import { relabelMounts } from '../os/selinux.js';
import { cdiEditsFor } from './cdi.js';
import { RECORD_VERSION, type ContainerRecord, type SandboxRecord } from '../store/records.js';
import { sandboxConfig } from '../views.js';
import { readRootfsFile } from './image-files.js';
import { prepareMountSources } from './mount-sources.js';
import { targetPidPath } from './target.js';
import { pidStartTime } from './proc.js';
import { ContainerEventType, publishEvent } from '../events.js';
import { isCheckpointPath, prepareRestore, type RestorePlan } from './restore.js';

export async function createContainer(rt: Runtime, req: CreateContainerRequest, ctx: HandlerContext): Promise<string> {
  await rt.reconciled;
  const sb = rt.sandboxes.get(req.podSandboxId);
  const cfg = req.config!;
  const md = cfg.metadata!;
  if (sb.state !== 'ready') throw new FailedPreconditionError(`CreateContainer ${md.name}: pod sandbox ${sb.id} is not ready`);
  const name = containerName(md, sandboxConfig(sb).metadata!);
  return rt.locks.run(`name:${name}`, async () => {
    const existing = rt.containers.idForName(name);
    if (existing !== undefined) {
      if (rt.claimTwin(existing)) return existing;
      throw new AlreadyExistsError(`CreateContainer: container name "${name}" is already in use by container ${existing}`);
    }
    const id = randomBytes(32).toString('hex');
    rt.containers.reserveName(name, id);
    const cleanup = new CleanupStack(ctx.log);
    cleanup.push('release name', async () => rt.containers.releaseName(name, id));
    try {
      // A checkpoint archive as the image: create from its image, restore at start.
      const restore = isCheckpointPath(cfg.image!.image) ? await prepareRestore(rt, cfg, ctx) : undefined;
      if (restore) cleanup.push('remove unpacked checkpoint', () => restore.discard());
      const record = await build(rt, { id, name, sb, cfg: restore?.cfg ?? cfg, restore }, cleanup, ctx);
      await rt.containers.put(record);
      cleanup.commit();
      publishEvent(rt, ContainerEventType.CONTAINER_CREATED_EVENT, record.id, record.sandboxId);
      rt.noteIfCallerGone(id, ctx);
      return id;
    } catch (err) {
      await cleanup.unwind();
      throw err;
    }
  });
}

interface Plan {
  id: string;
  name: string;
  sb: SandboxRecord;
  cfg: ContainerConfig;
  restore?: RestorePlan;
}

async function build(rt: Runtime, p: Plan, cleanup: CleanupStack, ctx: HandlerContext): Promise<ContainerRecord> {
  const { bus } = rt.deps;
  const call = { deadline: ctx.deadline, requestId: ctx.requestId };
  const image = await bus.call('image', 'ImageConfig', ImageConfigRequest, ImageConfigResponse, { image: p.cfg.image!.image }, call);
  // A read-only rootfs is runc's job (root.readonly, remounted after /proc and
  // friends are mounted on it), so storage always gives a writable overlay.
  const { rootfsPath } = await bus.call('storage', 'CreateRootfs', CreateRootfsRequest, CreateRootfsResponse, { containerId: p.id, diffIds: image.diffIds, readOnly: false }, call);
  cleanup.push('remove rootfs', () => bus.call('storage', 'RemoveRootfs', RootfsRequest, RemoveRootfsResponse, { containerId: p.id }));
  await p.restore?.applyRootfs(rootfsPath);

  const bundle = rt.bundleDir(p.id);
  await mkdir(bundle, { recursive: true, mode: 0o700 });
  cleanup.push('remove bundle', () => rm(bundle, { recursive: true, force: true }));

  const podCfg = sandboxConfig(p.sb);
  const ns = podCfg.linux?.securityContext?.namespaceOptions;
  const what = `CreateContainer ${p.cfg.metadata!.name}`;
  await prepareMountSources(p.cfg.mounts, what);
  const own = p.cfg.linux?.securityContext?.namespaceOptions;
  const targetPid = own?.pid === NamespaceMode.TARGET ? await targetPidPath(rt, p.sb.id, own.targetId, what) : undefined;
  const cdi = await cdiEditsFor(p.cfg, rt.deps.config.runtime.cdi_spec_dirs);
  const { spec, warnings, stopSignal, relabelPaths } = generateContainerSpec({
    containerId: p.id,
    config: p.cfg,
    imageName: p.cfg.image!.image,
    rootfsPath,
    image: {
      config: { user: image.user, env: image.env, entrypoint: image.entrypoint, cmd: image.cmd, workingDir: image.workingDir, stopSignal: image.stopSignal, labels: image.labels },
      passwd: await readRootfsFile(rootfsPath, 'etc/passwd'),
      group: await readRootfsFile(rootfsPath, 'etc/group'),
    },
    targetPidPath: targetPid,
    sandbox: {
      id: p.sb.id,
      metadata: podCfg.metadata,
      hostname: (await readFile(p.sb.hostnamePath, 'utf8')).trim(),
      hostNetwork: !p.sb.netnsPath,
      hostIpc: !p.sb.ipcPath,
      hostPid: ns?.pid === 2,
      netnsPath: p.sb.netnsPath || undefined,
      ipcPath: p.sb.ipcPath || undefined,
      utsPath: p.sb.utsPath || undefined,
      pidPath: p.sb.pause ? `/proc/${p.sb.pause.pid}/ns/pid` : undefined,
      shmPath: p.sb.shmPath || undefined,
      hostsPath: p.sb.hostsPath,
      resolvPath: p.sb.resolvPath,
      hostnamePath: p.sb.hostnamePath,
      cgroupParent: p.sb.cgroupParent,
      sysctls: podCfg.linux?.sysctls ?? {},
      selinuxOptions: podCfg.linux?.securityContext?.selinuxOptions,
    },
    host: await rt.createFacts(p.cfg.linux?.securityContext?.privileged ?? false),
    cdi,
  });
  for (const w of warnings) ctx.log.warn({ container: p.id }, w);
  await relabelMounts(rt.labeler, { hostPaths: relabelPaths, mountLabel: spec.linux.mountLabel, processLabel: spec.process.selinuxLabel }, ctx.log);
  await writeFileAtomic(path.join(bundle, 'config.json'), ociJson(spec), 0o600);

  const logPath = podCfg.logDirectory && p.cfg.logPath ? path.join(podCfg.logDirectory, p.cfg.logPath) : path.join(bundle, 'console.log');
  await mkdir(path.dirname(logPath), { recursive: true });
  const oci = rt.ociRuntime(p.sb.runtimeHandler);
  cleanup.push('delete from runtime', () => oci.delete(p.id));
  cleanup.push('remove conmon cgroup', () => removeCgroup(p.sb.cgroupParent, `crius-conmon-${p.id}`));
  // A restored container's monitor starts at StartContainer (container/restore-start.ts).
  const started = p.restore ? { pid: 0 } : await startConmon({
    conmon: rt.conmonPath,
    id: p.id,
    shortId: p.id.slice(0, 12),
    name: p.name,
    bundle,
    runtimePath: oci.h.path,
    runtimeArgs: [...oci.h.args, '--root', oci.h.root],
    logPath,
    exitDir: rt.exitDir,
    socketDir: rt.attachDir,
    terminal: p.cfg.tty,
    stdin: p.cfg.stdin,
    stdinOnce: p.cfg.stdinOnce,
    logSizeMax: rt.deps.config.runtime.log_size_max,
    place: async (pid) => void (await placeInCgroup(pid, p.sb.cgroupParent, `crius-conmon-${p.id}`)),
  });
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  return {
    version: RECORD_VERSION,
    id: p.id,
    sandboxId: p.sb.id,
    name: p.name,
    config: Buffer.from(ContainerConfig.encode(p.cfg).finish()).toString('base64'),
    image: p.cfg.image!.image,
    imageRef: image.imageRef,
    imageId: image.imageId,
    state: 'created',
    createdAt: now,
    startedAt: '0',
    finishedAt: '0',
    exitCode: 0,
    reason: '',
    message: '',
    pid: started.pid,
    pidStartTime: p.restore ? '' : await pidStartTime(started.pid),
    logPath,
    bundle,
    rootfs: rootfsPath,
    runtimeHandler: p.sb.runtimeHandler,
    stopSignal,
    user: { uid: spec.process.user.uid, gid: spec.process.user.gid, additionalGids: spec.process.user.additionalGids ?? [] },
    resources: p.cfg.linux?.resources ? Buffer.from(LinuxContainerResources.encode(p.cfg.linux.resources).finish()).toString('base64') : undefined,
    ...(p.restore ? { restore: p.restore.record } : {}),
  };
}
