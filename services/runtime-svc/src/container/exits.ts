// Turning what conmon recorded into container state: the exit file
// (<exit dir>/<id>, the exit code as text) and the OOM marker (<bundle>/oom).
// monitor-svc will push exits as they happen; runtime-svc also reads them on
// demand, so status is right even while monitor-svc is down or restarting.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRecord } from '../store/records.js';

export interface ExitInfo {
  exitCode: number;
  /** Unix ns when conmon wrote the exit file. */
  finishedAt: string;
  oomKilled: boolean;
}

export async function readExit(exitDir: string, rec: Pick<ContainerRecord, 'id' | 'bundle'>): Promise<ExitInfo | undefined> {
  const file = path.join(exitDir, rec.id);
  let text: string;
  let mtimeNs: bigint;
  try {
    text = await readFile(file, 'utf8');
    mtimeNs = (await stat(file, { bigint: true })).mtimeNs;
  } catch {
    return undefined;
  }
  const exitCode = Number.parseInt(text.trim(), 10);
  if (!Number.isFinite(exitCode)) return undefined;
  const oomKilled = await stat(path.join(rec.bundle, 'oom')).then(
    () => true,
    () => false,
  );
  return { exitCode, finishedAt: mtimeNs.toString(), oomKilled };
}

/** The CRI reason for an exit, as kubelet shows it. */
export function exitReason(e: ExitInfo): string {
  if (e.oomKilled) return 'OOMKilled';
  return e.exitCode === 0 ? 'Completed' : 'Error';
}
