// Relabelling host paths for CRI mounts with selinux_relabel, as CRI-O does
// with go-selinux's label.Relabel: the container's mount label on the whole
// tree, level s0 for a shared (`z`) relabel or the container's own MCS level
// for a private (`Z`) one; system directories are refused; a filesystem
// without xattr support is not an error. Owned by runtime-svc/os: chcon(1)
// does the setxattr, since Node has none. Where SELinux is off nothing is
// relabelled, and the decision is logged.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, InternalError, type Logger } from '@crius/common';
import { run } from './exec.js';
import { lsmRoot } from './apparmor.js';

/** The one thing runtime-svc asks of SELinux (an interface, so the flow is tested with a fake). */
export interface Labeler {
  readonly enabled: boolean;
  /** Label `hostPath` and everything under it. */
  relabel(hostPath: string, label: string): Promise<void>;
}

/** SELinux is on when selinuxfs is mounted (as libselinux's is_selinux_enabled). */
export function selinuxEnabled(root = lsmRoot()): boolean {
  return existsSync(path.join(root, 'sys/fs/selinux/enforce'));
}

/** go-selinux's list: relabelling these would break the node. */
export const NO_RELABEL_PATHS: readonly string[] = [
  '/', '/bin', '/boot', '/dev', '/etc', '/etc/passwd', '/etc/pki', '/etc/shadow', '/home', '/lib', '/lib64',
  '/media', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log',
];

/** The label for a relabel: shared content gets level s0 so every container may use it. */
export function relabelTarget(mountLabel: string, shared: boolean): string {
  if (!shared) return mountLabel;
  const parts = mountLabel.split(':');
  if (parts.length < 4) throw new InvalidArgumentError(`SELinux label "${mountLabel}" has no level`);
  return [...parts.slice(0, 3), 's0'].join(':');
}

export function checkRelabelPath(hostPath: string, home = process.env.HOME): void {
  const p = hostPath === '/' ? '/' : path.posix.normalize(hostPath).replace(/\/+$/, '');
  if (NO_RELABEL_PATHS.includes(p) || (home && p === home.replace(/\/+$/, ''))) {
    throw new InvalidArgumentError(`SELinux relabeling of ${p} is not allowed`);
  }
}

export interface RelabelRequest {
  hostPaths: string[];
  /** linux.mountLabel of the container; absent when SELinux is off. */
  mountLabel?: string;
  /** process.selinuxLabel: spc_t (super-privileged) containers are never relabelled, as CRI-O. */
  processLabel?: string;
  /** `z` instead of `Z` (CRI mounts are private, as CRI-O's). */
  shared?: boolean;
}

/**
 * Relabel every path, or say (debug) why none is. Bad paths are refused
 * before anything is changed.
 */
export async function relabelMounts(labeler: Labeler, req: RelabelRequest, log: Logger): Promise<string[]> {
  if (req.hostPaths.length === 0) return [];
  if (!labeler.enabled || !req.mountLabel) {
    log.debug({ paths: req.hostPaths }, 'selinux_relabel requested; SELinux is not enabled on this node, nothing relabelled');
    return [];
  }
  if (req.processLabel?.split(':')[2] === 'spc_t') {
    log.debug({ paths: req.hostPaths }, 'selinux_relabel skipped for a super-privileged (spc_t) container');
    return [];
  }
  for (const p of req.hostPaths) checkRelabelPath(p);
  const label = relabelTarget(req.mountLabel, req.shared ?? false);
  for (const p of req.hostPaths) await labeler.relabel(p, label);
  return req.hostPaths;
}

export class ChconLabeler implements Labeler {
  constructor(readonly enabled = selinuxEnabled()) {}

  async relabel(hostPath: string, label: string): Promise<void> {
    try {
      // -h: a symlink is labelled itself, never followed out of the tree.
      await run('chcon', ['-R', '-h', '--', label, hostPath]);
    } catch (err) {
      const msg = (err as Error).message;
      if (/Operation not supported/.test(msg)) return; // no xattrs here: CRI-O ignores ENOTSUP too
      throw new InternalError(`relabel ${hostPath} as ${label}: ${msg}`, { cause: err });
    }
  }
}
