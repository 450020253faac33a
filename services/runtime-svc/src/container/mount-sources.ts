// Host side of a container's CRI mounts, before the spec is written: a
// missing host_path is created as a directory (0755, as containerd and CRI-O
// do), and a mount that asks for propagation must sit on a host mount that
// can give it (see os/mountinfo.ts). Relative paths are left for spec
// generation to refuse.
import { mkdir, realpath, stat } from 'node:fs/promises';
import { FailedPreconditionError } from '@crius/common';
import { MountPropagation, type Mount } from '@crius/common/cri';
import { propagationProblem, readMountInfo, type MountInfo } from '../os/mountinfo.js';

export async function prepareMountSources(mounts: readonly Mount[], what: string): Promise<void> {
  let table: MountInfo[] | undefined;
  for (const m of mounts) {
    if (!m.hostPath.startsWith('/')) continue;
    if (m.image && m.image.image !== '') continue;
    const exists = await stat(m.hostPath).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw new FailedPreconditionError(`${what}: mount ${m.containerPath}: host_path "${m.hostPath}": ${err.message}`, { cause: err });
      },
    );
    if (!exists) {
      await mkdir(m.hostPath, { recursive: true, mode: 0o755 }).catch((err: Error) => {
        throw new FailedPreconditionError(`${what}: mount ${m.containerPath}: cannot create missing host_path "${m.hostPath}": ${err.message}`, { cause: err });
      });
    }
    const wanted =
      m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL ? 'rshared' : m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER ? 'rslave' : undefined;
    if (!wanted) continue;
    table ??= await readMountInfo();
    const problem = propagationProblem(await realpath(m.hostPath), wanted, table);
    if (problem) throw new FailedPreconditionError(`${what}: mount ${m.containerPath}: ${problem}`);
  }
}
