// StartContainer of a container created from a checkpoint: the monitor runs
// `runtime restore --detach` from the kept CRIU images, so the processes come
// back with their memory, open files and listening sockets in the new pod.
// Success makes the record running with the restored init's PID; failure
// makes it exited (reason RestoreError, CRIU's own words) and removes what
// the runtime made. The caller holds the container's lock and checked the
// state machine.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, type HandlerContext } from '@crius/common';
import { checkpointTools, criuErrors } from './checkpoint.js';
import { discardRestoreImages } from './restore.js';
import { pidStartTime } from './proc.js';
import { ContainerEventType, publishEvent } from '../events.js';
import { startConmon } from '../os/conmon.js';
import { placeInCgroup } from '../os/cgroups.js';
import type { Runtime } from '../runtime.js';
import type { ContainerRecord } from '../store/records.js';
import { containerConfig } from '../views.js';

const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();

export async function startRestored(rt: Runtime, rec: ContainerRecord & { restore: NonNullable<ContainerRecord['restore']> }, ctx?: HandlerContext): Promise<void> {
  const sb = rt.sandboxes.get(rec.sandboxId);
  if (sb.state !== 'ready') throw new FailedPreconditionError(`StartContainer ${rec.id}: pod sandbox ${sb.id} is not ready, cannot restore into it`);
  const tools = await checkpointTools(rt, rec);
  const cfg = containerConfig(rec);
  const timeoutMs = ctx?.deadline !== undefined ? Math.max(1000, ctx.deadline - Date.now() - 500) : rt.deps.config.runtime.checkpoint_timeout * 1000;
  let started;
  try {
    started = await startConmon({
      conmon: rt.conmonPath,
      id: rec.id,
      shortId: rec.id.slice(0, 12),
      name: rec.name,
      bundle: rec.bundle,
      runtimePath: tools.oci.h.path,
      runtimeArgs: [...tools.oci.h.args, '--root', tools.oci.h.root, '--criu', tools.criu.path],
      runtimeOpts: ['--file-locks'],
      restore: rec.restore.imagesDir,
      logPath: rec.logPath,
      exitDir: rt.exitDir,
      socketDir: rt.attachDir,
      terminal: cfg.tty,
      stdin: cfg.stdin,
      stdinOnce: cfg.stdinOnce,
      timeoutMs,
      place: async (pid) => void (await placeInCgroup(pid, sb.cgroupParent, `crius-conmon-${rec.id}`)),
    });
  } catch (err) {
    await tools.oci.delete(rec.id).catch(() => undefined);
    const reason = criuErrors(await readFile(path.join(rec.bundle, 'restore.log'), 'utf8').catch(() => ''));
    const message = `restore of container ${rec.id} from ${rec.restore.archive} failed${reason ? ` (CRIU ${tools.criu.version}): ${reason}` : `: ${(err as Error).message}`}`;
    await rt.containers.update(rec.id, () => ({ state: 'exited', exitCode: 128, finishedAt: nowNs(), reason: 'RestoreError', message, restore: undefined }));
    await discardRestoreImages(rt, rec.restore);
    publishEvent(rt, ContainerEventType.CONTAINER_STOPPED_EVENT, rec.id, rec.sandboxId);
    throw new FailedPreconditionError(message, { cause: err });
  }
  const at = nowNs();
  const startTime = await pidStartTime(started.pid);
  await rt.containers.update(rec.id, () => ({
    state: 'running',
    startedAt: at,
    pid: started.pid,
    pidStartTime: startTime,
    restore: undefined,
    restoredFrom: { archive: rec.restore.archive, at },
  }));
  await discardRestoreImages(rt, rec.restore);
  publishEvent(rt, ContainerEventType.CONTAINER_STARTED_EVENT, rec.id, rec.sandboxId);
  ctx?.log.info({ container: rec.id, archive: rec.restore.archive }, 'restored container');
}
