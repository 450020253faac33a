// Resolving a program name to an absolute path (conmon insists on one for
// the runtime), the way a shell would: PATH plus the sbin dirs root has.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { FailedPreconditionError } from '@crius/common';

const EXTRA = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function which(program: string): string {
  if (program.includes('/')) return path.resolve(program);
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA];
  for (const dir of dirs) {
    const candidate = path.join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new FailedPreconditionError(`${program} not found in PATH or ${EXTRA.join(':')}`);
}
