// CheckpointContainer: dump a running container with CRIU through its OCI
// runtime and leave it running, into the archive CRI-O writes
// (checkpoint/archive.ts). As CRI-O does, the container is paused first so
// the memory images and the rootfs changes are one consistent moment, and
// resumed whatever happens. A failed checkpoint leaves nothing behind: the
// work directory and the half-written archive are removed, the container
// keeps running untouched.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeadlineExceededError, FailedPreconditionError, InvalidArgumentError, type HandlerContext } from '@crius/common';
import { RootfsInfo, RootfsRequest } from '@crius/common/proto/storage';
import { BIND_MOUNTS, CHECKPOINT_DIR, CONFIG_DUMP, CONTAINER_LOG, DUMP_LOG, SPEC_DUMP, packDirectory } from '../checkpoint/archive.js';
import { buildConfigDump, type BindMountDump } from '../checkpoint/metadata.js';
import { writeRootfsDiff } from '../checkpoint/rootfs-diff.js';
import { ensureCriu, ensureRuntimeCanCheckpoint, type CriuInfo } from '../os/criu.js';
import { dump, pause, resume } from '../os/oci-checkpoint.js';
import type { OciRuntime } from '../os/oci-runtime.js';
import type { Runtime } from '../runtime.js';
import type { OciSpec } from '../spec/oci-types.js';
import type { ContainerRecord } from '../store/records.js';
import { refreshExit } from './lifecycle.js';

export interface CheckpointRequest {
  containerId: string;
  location: string;
  /** Seconds; 0: the caller's deadline, else runtime.checkpoint_timeout. */
  timeout: number;
}

/** Milliseconds left for the work: the request's timeout, the caller's deadline, else the configured default. */
export function checkpointBudget(rt: Runtime, timeoutSeconds: number, ctx: HandlerContext): number {
  const limits = [timeoutSeconds > 0 ? timeoutSeconds * 1000 : rt.deps.config.runtime.checkpoint_timeout * 1000];
  if (ctx.deadline !== undefined) limits.push(ctx.deadline - Date.now() - 500);
  return Math.max(1, Math.min(...limits));
}

/** An absolute archive path whose directory exists. */
export async function checkLocation(location: string, what: string): Promise<void> {
  if (!location) throw new InvalidArgumentError(`${what}: location (the archive to write) is required`);
  if (!path.isAbsolute(location)) throw new InvalidArgumentError(`${what}: location ${JSON.stringify(location)} is not an absolute path`);
  const dir = await stat(path.dirname(location)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new InvalidArgumentError(`${what}: directory ${path.dirname(location)} of location does not exist`);
  const target = await stat(location).catch(() => undefined);
  if (target?.isDirectory()) throw new InvalidArgumentError(`${what}: location ${location} is a directory, not an archive path`);
}

export async function checkpointContainer(rt: Runtime, req: CheckpointRequest, ctx: HandlerContext): Promise<void> {
  const what = `CheckpointContainer ${req.containerId}`;
  const until = Date.now() + checkpointBudget(rt, req.timeout, ctx);
  const found = rt.containers.get(req.containerId);
  await checkLocation(req.location, what);
  await rt.locks.run(found.id, async () => {
    const rec = await refreshExit(rt, rt.containers.get(found.id));
    canCheckpoint(rec);
    const tools = await checkpointTools(rt, rec);
    const work = await workDir(req.location);
    try {
      await prepareDump(rt, rec, work);
      await pause(tools.oci, rec.id);
      try {
        await dumpOne(rt, rec, tools, work, until);
      } finally {
        await resume(tools.oci, rec.id).catch((err) => ctx.log.error({ container: rec.id, err: err.message }, 'resume after checkpoint failed'));
      }
      await packDirectory(work, req.location);
      ctx.log.info({ container: rec.id, location: req.location }, 'checkpointed container');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

export function canCheckpoint(rec: Pick<ContainerRecord, 'id' | 'state'>): void {
  if (rec.state !== 'running') throw new FailedPreconditionError(`container ${rec.id} is ${rec.state}: only a running container can be checkpointed`);
}

export interface CheckpointTools {
  criu: CriuInfo;
  oci: OciRuntime;
}

/** CRIU and an OCI runtime able to use it, or FAILED_PRECONDITION saying which is missing. */
export async function checkpointTools(rt: Runtime, rec: Pick<ContainerRecord, 'runtimeHandler'>): Promise<CheckpointTools> {
  const criu = await ensureCriu(rt.deps.config.runtime.criu_path);
  const oci = rt.ociRuntime(rec.runtimeHandler);
  await ensureRuntimeCanCheckpoint(oci.h.path, rec.runtimeHandler);
  return { criu, oci };
}

/** A private directory beside the archive (same filesystem, so the images never sit in tmpfs). */
export async function workDir(location: string): Promise<string> {
  const dir = path.join(path.dirname(location), `.${path.basename(location)}.crius-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** spec.dump, config.dump and bind.mounts: what the container was, before it is frozen. */
export async function prepareDump(rt: Runtime, rec: ContainerRecord, work: string): Promise<void> {
  const specText = await readFile(path.join(rec.bundle, 'config.json'), 'utf8');
  await writeFile(path.join(work, SPEC_DUMP), specText, { mode: 0o600 });
  const config = buildConfigDump({
    id: rec.id,
    name: rec.name,
    image: rec.image,
    imageId: rec.imageId,
    imageRef: rec.imageRef,
    runtimeHandler: rec.runtimeHandler,
    createdAtNs: rec.createdAt,
    checkpointedAt: new Date(),
    restored: !!rec.restoredFrom,
    restoredAtNs: rec.restoredFrom?.at,
  });
  await writeFile(path.join(work, CONFIG_DUMP), JSON.stringify(config, null, 2), { mode: 0o600 });
  const binds = await bindMounts(JSON.parse(specText) as OciSpec);
  if (binds.length) await writeFile(path.join(work, BIND_MOUNTS), JSON.stringify(binds, null, 2), { mode: 0o600 });
  await mkdir(path.join(work, CHECKPOINT_DIR), { mode: 0o700 });
}

async function bindMounts(spec: OciSpec): Promise<BindMountDump[]> {
  const out: BindMountDump[] = [];
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'bind' || !m.source) continue;
    const st = await stat(m.source).catch(() => undefined);
    if (!st) continue;
    out.push({ source: m.source, destination: m.destination, file_type: st.isDirectory() ? 'directory' : 'file', permissions: st.mode & 0o777 });
  }
  return out;
}

/** The dump of a paused container, its rootfs changes and its log, into `work`. */
export async function dumpOne(rt: Runtime, rec: ContainerRecord, tools: CheckpointTools, work: string, until: number): Promise<void> {
  const timeoutMs = until - Date.now();
  if (timeoutMs <= 0) throw new DeadlineExceededError(`checkpoint of container ${rec.id}: no time left before the deadline`);
  try {
    await dump(tools.oci, rec.id, { criu: tools.criu.path, imagePath: path.join(work, CHECKPOINT_DIR), workPath: work, leaveRunning: true, timeoutMs });
  } catch (err) {
    if (err instanceof DeadlineExceededError) throw err;
    const reason = criuErrors(await readFile(path.join(work, DUMP_LOG), 'utf8').catch(() => ''));
    throw new FailedPreconditionError(`container ${rec.id} cannot be checkpointed (CRIU ${tools.criu.version}): ${reason || (err as Error).message}`, { cause: err });
  }
  const spec = JSON.parse(await readFile(path.join(rec.bundle, 'config.json'), 'utf8')) as OciSpec;
  const info = await rt.deps.bus.call('storage', 'RootfsInfo', RootfsRequest, RootfsInfo, { containerId: rec.id });
  if (info.upperDir) await writeRootfsDiff(info.upperDir, work, new Set((spec.mounts ?? []).map((m) => m.destination)));
  if (rec.logPath) await copyFile(rec.logPath, path.join(work, CONTAINER_LOG)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The Error lines of a CRIU log, without timestamps and source positions, deduplicated. */
export function criuErrors(log: string): string {
  const lines = log
    .split('\n')
    .filter((l) => /\bError \(/.test(l))
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').replace(/^(\d+:\s*)?Error \([^)]*\):\s*/, '').trim())
    // Not causes: the summary line, and CRIU failing to raise its own fd limit (no CAP_SYS_RESOURCE here), which it survives.
    .filter((l) => l && !/^Dumping FAILED|^Restoring FAILED|^rlimit: Can't setup RLIMIT_NOFILE/.test(l));
  return [...new Set(lines)].slice(0, 4).join('; ');
}
