// ReopenContainerLog: ask the container's conmon to reopen its log file
// (kubelet renamed it to rotate). conmon reads "<type> <height> <width>\n"
// lines from the ctl fifo in the bundle; type 2 means reopen the log.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError } from '@crius/common';

export const CTL_REOPEN_LOG = 2;

export async function reopenLog(bundle: string, containerId: string): Promise<void> {
  let fh;
  try {
    fh = await open(path.join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new FailedPreconditionError(`ReopenContainerLog ${containerId}: its monitor is not running (${(err as Error).message})`, { cause: err });
  }
  try {
    await fh.write(`${CTL_REOPEN_LOG} 0 0\n`);
  } finally {
    await fh.close();
  }
}
