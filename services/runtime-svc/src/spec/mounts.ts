// Container mounts: the default kernel filesystems, the pod's /etc/hosts,
// /etc/resolv.conf and /etc/hostname, and the CRI bind mounts; plus masked and
// read-only /proc and /sys paths. Owned by runtime-svc/spec; pure.
import path from 'node:path';
import { InvalidArgumentError, UnimplementedError } from '@crius/common';
import { MountPropagation, type LinuxContainerSecurityContext, type Mount } from '@crius/common/cri';
import type { OciMount } from './oci-types.js';

/** CRI-O's defaults (kubelet normally sends these itself). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** CRI-O's 64 MiB, when [runtime] shm_size is not passed in. */
export const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** The kernel filesystems every container gets; privileged ones get /sys rw. */
export function defaultMounts(opts: { privileged: boolean; shmPath?: string; shmSizeBytes?: number }): OciMount[] {
  const sysRo = opts.privileged ? [] : ['ro'];
  const shm: OciMount = opts.shmPath
    ? { destination: '/dev/shm', type: 'bind', source: opts.shmPath, options: ['rbind', 'rprivate', 'rw'] }
    : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${opts.shmSizeBytes ?? DEFAULT_SHM_BYTES}`] };
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    shm,
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...sysRo] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', ...sysRo],
    },
  ];
}

export interface PodFiles {
  hostsPath?: string;
  resolvPath?: string;
  hostnamePath?: string;
}

/** Binds of the sandbox's files; read-only when the rootfs is (as CRI-O). */
export function podFileMounts(files: PodFiles, readonlyRootfs: boolean): OciMount[] {
  const mode = readonlyRootfs ? 'ro' : 'rw';
  const out: OciMount[] = [];
  const add = (destination: string, source?: string) => {
    if (source) out.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', mode] });
  };
  add('/etc/hosts', files.hostsPath);
  add('/etc/resolv.conf', files.resolvPath);
  add('/etc/hostname', files.hostnamePath);
  return out;
}

/** An absolute, `..`-free container path, normalised ("/a//b/" → "/a/b"). */
export function validateContainerPath(p: string): string {
  if (!p.startsWith('/')) {
    throw new InvalidArgumentError(`mount container_path "${p}" is not an absolute path`);
  }
  if (p.split('/').includes('..')) {
    throw new InvalidArgumentError(`mount container_path "${p}" must not contain ".."`);
  }
  const norm = path.posix.normalize(p);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

const PROPAGATION: Record<number, string> = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'rprivate',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'rslave',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'rshared',
};

/** One CRI mount as an OCI bind mount. */
export function criMount(m: Mount): OciMount {
  const destination = validateContainerPath(m.containerPath);
  if (m.image && m.image.image !== '') {
    throw new UnimplementedError(`mount ${destination}: image volumes are not supported`);
  }
  if (!m.hostPath.startsWith('/')) {
    throw new InvalidArgumentError(`mount ${destination}: host_path "${m.hostPath}" is not an absolute path`);
  }
  if (m.uidMappings.length > 0 || m.gidMappings.length > 0) {
    throw new UnimplementedError(`mount ${destination}: id-mapped mounts are not supported`);
  }
  if (m.recursiveReadOnly) {
    // runc 1.1 has no "rro"; kubelet only asks when the runtime advertises it.
    throw new InvalidArgumentError(`mount ${destination}: recursive read-only mounts are not supported`);
  }
  const propagation = PROPAGATION[m.propagation];
  if (!propagation) {
    throw new InvalidArgumentError(`mount ${destination}: unknown propagation ${m.propagation}`);
  }
  return {
    destination,
    type: 'bind',
    source: m.hostPath,
    options: ['rbind', propagation, m.readonly ? 'ro' : 'rw'],
  };
}

function depth(dest: string): number {
  return dest === '/' ? 0 : dest.split('/').length - 1;
}

/** Parents before children: a stable sort by the destination's depth. */
export function sortMounts(mounts: OciMount[]): OciMount[] {
  return [...mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
}

export interface MountsInput extends PodFiles {
  mounts: Mount[];
  privileged: boolean;
  readonlyRootfs: boolean;
  shmPath?: string;
  shmSizeBytes?: number;
}

export interface MountsResult {
  mounts: OciMount[];
  /** "rshared"/"rslave" when a mount needs the rootfs to propagate. */
  rootfsPropagation?: string;
  /** Host paths of selinux_relabel mounts; the caller relabels them when SELinux is on (os/selinux.ts). */
  relabelPaths: string[];
}

/**
 * Defaults, then pod files, then CRI mounts; a CRI mount at a destination
 * already used replaces that mount. Whether a shared/slave mount's source is
 * itself shared on the host is the caller's (OS) check, not done here.
 */
export function buildMounts(input: MountsInput): MountsResult {
  const user = input.mounts.map(criMount);
  const seen = new Set<string>();
  for (const m of user) {
    if (seen.has(m.destination)) throw new InvalidArgumentError(`duplicate mount container_path "${m.destination}"`);
    seen.add(m.destination);
  }
  const base = [
    ...defaultMounts({ privileged: input.privileged, shmPath: input.shmPath, shmSizeBytes: input.shmSizeBytes }),
    ...podFileMounts(input, input.readonlyRootfs),
  ].filter((m) => !seen.has(m.destination));
  const props = user.flatMap((m) => m.options ?? []);
  const rootfsPropagation = props.includes('rshared') ? 'rshared' : props.includes('rslave') ? 'rslave' : undefined;
  const relabelPaths = input.mounts.filter((m) => m.selinuxRelabel).map((m) => m.hostPath);
  return { mounts: sortMounts([...base, ...user]), rootfsPropagation, relabelPaths };
}

/** Masked and read-only paths: none when privileged; CRI's lists, else defaults. */
export function protectedPaths(
  sc: Pick<LinuxContainerSecurityContext, 'maskedPaths' | 'readonlyPaths'> | undefined,
  privileged: boolean,
): { maskedPaths: string[]; readonlyPaths: string[] } {
  if (privileged) return { maskedPaths: [], readonlyPaths: [] };
  // proto3 cannot tell an empty list from an absent one, so empty = defaults.
  const masked = sc?.maskedPaths ?? [];
  const ro = sc?.readonlyPaths ?? [];
  return {
    maskedPaths: masked.length > 0 ? [...masked] : [...DEFAULT_MASKED_PATHS],
    readonlyPaths: ro.length > 0 ? [...ro] : [...DEFAULT_READONLY_PATHS],
  };
}
