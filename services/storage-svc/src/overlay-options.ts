// Builds overlayfs mount options for a container rootfs and keeps them under the page size. Owner: storage-svc.
// The kernel copies mount data into one page, so options longer than 4095 bytes fail; lowerdirs
// are therefore short link names relative to `<root>/l`, where mount runs (chdir).
import { InvalidArgumentError, ResourceExhaustedError } from '@crius/common';

/** The smallest page size Linux uses; larger pages only raise the real limit. */
export const MOUNT_DATA_LIMIT = 4096 - 1;

export interface OverlaySpec {
  /** Link names under `<root>/l`, bottom layer first (image config `rootfs.diff_ids` order). */
  lowers: string[];
  /** Absolute upper/work dirs; both absent for a read-only rootfs. */
  upper?: string;
  work?: string;
  /** Second lower for a read-only single-layer rootfs (the kernel wants two lowers without an upper). */
  emptyLower: string;
}

export function overlayOptions(spec: OverlaySpec, what: string): string {
  if (spec.lowers.length === 0) throw new InvalidArgumentError(`${what}: a rootfs needs at least one layer`);
  for (const p of [...spec.lowers, spec.upper ?? '', spec.work ?? '', spec.emptyLower]) {
    if (/[,:\s\\]/.test(p)) throw new InvalidArgumentError(`${what}: path ${JSON.stringify(p)} cannot go into overlay options`);
  }
  // overlayfs stacks the leftmost lowerdir on top.
  const lowers = [...spec.lowers].reverse();
  let opts: string;
  if (spec.upper && spec.work) {
    opts = `lowerdir=${lowers.join(':')},upperdir=${spec.upper},workdir=${spec.work}`;
  } else {
    if (lowers.length === 1) lowers.push(spec.emptyLower);
    opts = `ro,lowerdir=${lowers.join(':')}`;
  }
  if (opts.length > MOUNT_DATA_LIMIT) {
    throw new ResourceExhaustedError(
      `${what}: overlay mount options for ${spec.lowers.length} layers are ${opts.length} bytes, over the ${MOUNT_DATA_LIMIT}-byte limit`,
    );
  }
  return opts;
}
