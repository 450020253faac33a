// NamespaceMode TARGET (`kubectl debug --target`): a container joins the PID
// namespace of another running container of the same pod. The target is
// found by its recorded PID and that PID's start time, so a reused PID is
// never joined.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@crius/common';
import type { Runtime } from '../runtime.js';
import { refreshExit } from './lifecycle.js';
import { sameProcess } from './proc.js';

/** /proc/<target init pid>/ns/pid, or the reason the target cannot be joined. */
export async function targetPidPath(rt: Runtime, sandboxId: string, targetId: string, what: string): Promise<string> {
  if (!targetId) throw new InvalidArgumentError(`${what}: PID namespace mode TARGET needs a target_id`);
  const found = rt.containers.find(targetId);
  if (!found) throw new NotFoundError(`${what}: target container "${targetId}" not found`);
  if (found.sandboxId !== sandboxId) {
    throw new InvalidArgumentError(`${what}: target container ${found.id} belongs to pod sandbox ${found.sandboxId}, not ${sandboxId}`);
  }
  const rec = await refreshExit(rt, found);
  if (rec.state !== 'running' || !(await sameProcess(rec.pid, rec.pidStartTime))) {
    const state = rec.state === 'running' ? 'gone' : rec.state;
    throw new FailedPreconditionError(`${what}: target container ${rec.id} is ${state}, not running: its PID namespace cannot be joined`);
  }
  return `/proc/${rec.pid}/ns/pid`;
}
