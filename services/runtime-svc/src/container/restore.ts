// Restore, as CRI-O does it: CreateContainer whose image is the absolute path
// of a checkpoint archive (or of an unpacked checkpoint directory) creates
// the container from the image the checkpoint was taken from, with the
// checkpoint's rootfs changes applied, and keeps the CRIU images; the
// following StartContainer restores the processes through the monitor
// (`conmon --restore` → `runtime restore --detach`) instead of starting the
// image's command. The restored container runs in the new pod's network,
// with the new pod's hosts/resolv.conf/hostname and its cgroups.
//
// Unpacked images live in <state>/checkpoints/<random> (disk, not tmpfs:
// they hold every memory page) until the restore ran or the container is
// removed; recovery removes any no record points at.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type HandlerContext } from '@crius/common';
import type { ContainerConfig } from '@crius/common/cri';
import { ImageConfigRequest, ImageConfigResponse } from '@crius/common/proto/image';
import { CHECKPOINT_DIR, CONFIG_DUMP, POD_DUMP, SPEC_DUMP, unpackArchive } from '../checkpoint/archive.js';
import { parseConfigDump, parseSpecDump, restoredContainerConfig, rootfsImageCandidates, type ConfigDump } from '../checkpoint/metadata.js';
import { applyRootfsDiff } from '../checkpoint/rootfs-diff.js';
import type { Runtime } from '../runtime.js';
import type { ContainerRecord } from '../store/records.js';
import { ContainerEventType, publishEvent } from '../events.js';

export interface RestorePlan {
  /** The config the container is created with (the request's, on the checkpoint's image). */
  cfg: ContainerConfig;
  archive: string;
  /** What the record keeps until StartContainer restores. */
  record: { imagesDir: string; archive: string };
  /** Apply the checkpoint's rootfs changes to the new container's rootfs. */
  applyRootfs(rootfs: string): Promise<void>;
  /** Remove what the plan unpacked (create failed, or the restore is over). */
  discard(): Promise<void>;
}

/** Image names never start with '/': such an "image" is a checkpoint on this node. */
export function isCheckpointPath(image: string): boolean {
  return image.startsWith('/');
}

export function checkpointsDir(rt: Runtime): string {
  return path.join(rt.deps.dirs.state, 'checkpoints');
}

/** Unpack (or open) the checkpoint, check it, and find the image it was taken from. */
export async function prepareRestore(rt: Runtime, req: ContainerConfig, ctx: HandlerContext): Promise<RestorePlan> {
  const archive = req.image!.image;
  const what = `CreateContainer ${req.metadata?.name}: checkpoint ${archive}`;
  const st = await stat(archive).catch(() => undefined);
  if (!st) throw new NotFoundError(`${what} does not exist`);
  let dir = archive;
  let owned = false;
  if (!st.isDirectory()) {
    dir = path.join(checkpointsDir(rt), randomBytes(16).toString('hex'));
    owned = true;
  }
  const discard = async () => {
    if (owned) await rm(dir, { recursive: true, force: true });
  };
  try {
    if (owned) await unpackArchive(archive, dir);
    const { config, spec } = await readCheckpoint(dir, what);
    const image = await checkpointImage(rt, config, what, ctx);
    const cfg = restoredContainerConfig(req, spec, image, what);
    return {
      cfg,
      archive,
      record: { imagesDir: path.join(dir, CHECKPOINT_DIR), archive },
      applyRootfs: (rootfs) => applyRootfsDiff(dir, rootfs, what),
      discard,
    };
  } catch (err) {
    await discard();
    throw err;
  }
}

async function readCheckpoint(dir: string, what: string) {
  const read = (name: string) => readFile(path.join(dir, name), 'utf8').catch(() => undefined);
  const configText = await read(CONFIG_DUMP);
  if (configText === undefined) {
    if ((await read(POD_DUMP)) !== undefined) throw new InvalidArgumentError(`${what} is a pod checkpoint: restore it with RestorePod`);
    throw new InvalidArgumentError(`${what} is not a container checkpoint: it has no ${CONFIG_DUMP}`);
  }
  const specText = await read(SPEC_DUMP);
  if (specText === undefined) throw new InvalidArgumentError(`${what} has no ${SPEC_DUMP}`);
  const config = parseConfigDump(configText, what);
  const spec = parseSpecDump(specText, what);
  const inventory = await stat(path.join(dir, CHECKPOINT_DIR, 'inventory.img')).catch(() => undefined);
  if (!inventory?.isFile()) throw new InvalidArgumentError(`${what} holds no CRIU images (${CHECKPOINT_DIR}/inventory.img is missing)`);
  return { config, spec };
}

/**
 * The image to create the container from: the one the checkpoint names, by
 * the most readable name that still resolves to the recorded image ID.
 */
async function checkpointImage(rt: Runtime, config: ConfigDump, what: string, ctx: HandlerContext): Promise<string> {
  const wantId = config.rootfsImageRef?.startsWith('sha256:') ? config.rootfsImageRef : undefined;
  const candidates = rootfsImageCandidates(config).reverse(); // name first, ID last
  for (const image of candidates) {
    const found = await rt.deps.bus
      .call('image', 'ImageConfig', ImageConfigRequest, ImageConfigResponse, { image }, { deadline: ctx.deadline, requestId: ctx.requestId })
      .catch((err) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
    if (found && (!wantId || found.imageId === wantId)) return image;
  }
  throw new FailedPreconditionError(`${what} was taken from image ${config.rootfsImageName || config.rootfsImage || config.rootfsImageRef}, which is not on this node; pull it first`);
}

/** Restore dirs no record points at: a create or restore that died half way. */
export async function sweepRestoreDirs(rt: Runtime): Promise<void> {
  const inUse = new Set(rt.containers.list().flatMap((c) => (c.restore ? [path.dirname(c.restore.imagesDir)] : [])));
  const root = checkpointsDir(rt);
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = path.join(root, name);
    if (inUse.has(dir)) continue;
    rt.log.warn({ dir }, 'removing unpacked checkpoint no container uses');
    await rm(dir, { recursive: true, force: true });
  }
}

/** The unpacked images of a container that will not be restored any more (ours only, never a caller's directory). */
export async function discardRestoreImages(rt: Runtime, restore: { imagesDir: string } | undefined): Promise<void> {
  if (!restore) return;
  const dir = path.dirname(restore.imagesDir);
  if (path.dirname(dir) === checkpointsDir(rt)) await rm(dir, { recursive: true, force: true });
}

/** Stop of a container still waiting to be restored: nothing runs, it just ends (its images go with RemoveContainer). */
export async function stopUnrestored(rt: Runtime, rec: ContainerRecord): Promise<void> {
  const next = await rt.containers.update(rec.id, () => ({
    state: 'exited',
    exitCode: 0,
    finishedAt: (BigInt(Date.now()) * 1_000_000n).toString(),
    reason: 'Completed',
    message: 'stopped before it was restored from its checkpoint',
  }));
  publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, next.id, next.sandboxId);
}
