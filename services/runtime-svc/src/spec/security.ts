// Namespaces a container joins or creates, namespaced sysctls (the pod's over
// the node's defaults) and SELinux labels. Owned by runtime-svc/spec; pure.
// (Seccomp is in seccomp.ts, AppArmor in apparmor.ts, capabilities in
// capabilities.ts, devices in devices.ts.)
import { FailedPreconditionError, InvalidArgumentError, IPC_SYSCTL, NET_SYSCTL, UnimplementedError } from '@crius/common';
import { NamespaceMode, type NamespaceOption, type SELinuxOption } from '@crius/common/cri';
import type { OciNamespace } from './oci-types.js';

/** The sandbox's namespaces: host flags and the paths of pinned ones. */
export interface SandboxNamespaces {
  hostNetwork: boolean;
  hostIpc: boolean;
  hostPid: boolean;
  /** Pinned network namespace (required unless hostNetwork). */
  netnsPath?: string;
  /** Pinned IPC / UTS namespaces; absent = the container gets a new one. */
  ipcPath?: string;
  utsPath?: string;
  /** /proc/<pause pid>/ns/pid when the pod shares one PID namespace. */
  pidPath?: string;
}

export interface NamespaceRequest {
  sandbox: SandboxNamespaces;
  /** The container's namespace_options (pid mode, target, userns). */
  options?: NamespaceOption;
  /** The target container's /proc/<pid>/ns/pid for NamespaceMode TARGET. */
  targetPidPath?: string;
  cgroupVersion: 1 | 2;
}

function pidNamespace(req: NamespaceRequest): OciNamespace | undefined {
  const mode = req.options?.pid ?? (req.sandbox.hostPid ? NamespaceMode.NODE : NamespaceMode.CONTAINER);
  switch (mode) {
    case NamespaceMode.NODE:
      return undefined;
    case NamespaceMode.CONTAINER:
      return { type: 'pid' };
    case NamespaceMode.POD:
      if (!req.sandbox.pidPath) throw new FailedPreconditionError('pod PID namespace requested but the sandbox has no pause process');
      return { type: 'pid', path: req.sandbox.pidPath };
    case NamespaceMode.TARGET:
      if (!req.targetPidPath) {
        throw new FailedPreconditionError(`PID namespace of target container "${req.options?.targetId ?? ''}" is unknown`);
      }
      return { type: 'pid', path: req.targetPidPath };
    default:
      throw new InvalidArgumentError(`unknown PID namespace mode ${mode}`);
  }
}

/**
 * Network/IPC/UTS follow the sandbox (host UTS goes with host network, as in
 * Kubernetes); PID follows the container's mode; mount is always new, cgroup
 * new on cgroup v2.
 */
export function containerNamespaces(req: NamespaceRequest): OciNamespace[] {
  const sb = req.sandbox;
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (!sb.hostNetwork) {
    if (!sb.netnsPath) throw new FailedPreconditionError('sandbox has no network namespace path');
    ns.push({ type: 'network', path: sb.netnsPath });
    ns.push(sb.utsPath ? { type: 'uts', path: sb.utsPath } : { type: 'uts' });
  }
  if (!sb.hostIpc) ns.push(sb.ipcPath ? { type: 'ipc', path: sb.ipcPath } : { type: 'ipc' });
  const pid = pidNamespace(req);
  if (pid) ns.push(pid);
  if (req.cgroupVersion === 2) ns.push({ type: 'cgroup' });
  const userns = req.options?.usernsOptions;
  if (userns && userns.mode !== NamespaceMode.NODE) {
    throw new UnimplementedError('user namespaces are not supported');
  }
  return ns;
}


/** "net/ipv4/ip_forward" → "net.ipv4.ip_forward" (Kubernetes accepts both). */
export function normalizeSysctlName(name: string): string {
  const firstSep = name.search(/[./]/);
  if (firstSep < 0 || name[firstSep] === '.') return name;
  return name.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

/** Only namespaced sysctls, and never into a namespace shared with the host. */
export function validateSysctls(
  sysctls: Record<string, string>,
  sb: Pick<SandboxNamespaces, 'hostNetwork' | 'hostIpc'>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(sysctls)) {
    const name = normalizeSysctlName(raw);
    if (IPC_SYSCTL.test(name)) {
      if (sb.hostIpc) throw new InvalidArgumentError(`sysctl "${raw}" is not allowed with host IPC`);
    } else if (NET_SYSCTL.test(name)) {
      if (sb.hostNetwork) throw new InvalidArgumentError(`sysctl "${raw}" is not allowed with host network`);
    } else {
      throw new InvalidArgumentError(`sysctl "${raw}" is not namespaced and cannot be set for a pod`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * The node's default_sysctls, then the pod's (which win for the same name,
 * as CRI-O). A default that cannot apply to this pod (net.* with host
 * network, IPC with host IPC) is skipped with a warning, not an error: the
 * node's config must not make host-network pods fail.
 */
export function podSysctls(
  defaults: Record<string, string>,
  pod: Record<string, string>,
  sb: Pick<SandboxNamespaces, 'hostNetwork' | 'hostIpc'>,
  warnings: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults)) {
    if ((NET_SYSCTL.test(name) && sb.hostNetwork) || (IPC_SYSCTL.test(name) && sb.hostIpc)) {
      warnings.push(`default sysctl ${name} skipped: the pod shares the host's ${NET_SYSCTL.test(name) ? 'network' : 'IPC'} namespace`);
      continue;
    }
    out[name] = value;
  }
  return { ...out, ...validateSysctls(pod, sb) };
}

export const DEFAULT_PROCESS_LABEL: SELinuxOption = { user: 'system_u', role: 'system_r', type: 'container_t', level: 's0' };
export const DEFAULT_FILE_TYPE = 'container_file_t';

/**
 * Labels only when SELinux is on: each field from the container's options,
 * else the pod's, else the default. The mount label shares user and level.
 */
export function selinuxLabels(
  enabled: boolean,
  container?: SELinuxOption,
  pod?: SELinuxOption,
): { processLabel?: string; mountLabel?: string } {
  if (!enabled) return {};
  const pick = (k: keyof SELinuxOption) => container?.[k] || pod?.[k] || DEFAULT_PROCESS_LABEL[k];
  const user = pick('user');
  const level = pick('level');
  return {
    processLabel: `${user}:${pick('role')}:${pick('type')}:${level}`,
    mountLabel: `${user}:object_r:${DEFAULT_FILE_TYPE}:${level}`,
  };
}
