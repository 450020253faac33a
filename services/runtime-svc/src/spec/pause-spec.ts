// The OCI config of a sandbox's pause process (catatonit -P), started only
// when the pod shares one PID namespace: it holds that namespace and reaps
// zombies. Owned by runtime-svc/spec; pure.
import { NamespaceMode, type LinuxSandboxSecurityContext } from '@crius/common/cri';
import { OCI_VERSION, type OciLinux, type OciSpec } from './oci-types.js';
import { clampOomScoreAdj, DEFAULT_PATH } from './process.js';
import { defaultMounts, protectedPaths } from './mounts.js';
import { buildResources, cgroupsPath } from './resources.js';
import { containerNamespaces, selinuxLabels, validateSysctls } from './security.js';
import { resolveSeccomp } from './seccomp.js';
import { ANNOTATION, type HostFacts, type SandboxInfo } from './generate.js';

/** Where catatonit sits inside the pause rootfs the caller prepares. */
export const PAUSE_BINARY = '/catatonit';
/** kubelet/CRI-O's usual score for infra containers: last to be OOM-killed. */
export const PAUSE_OOM_SCORE_ADJ = -998;

export interface PauseSpecInput {
  sandbox: Omit<SandboxInfo, 'pidPath'>;
  securityContext?: LinuxSandboxSecurityContext;
  /** A small directory holding /catatonit (made by the caller). */
  rootfsPath: string;
  host: HostFacts;
  oomScoreAdj?: number;
}

function id(v: bigint | undefined, fallback: number): number {
  return v === undefined ? fallback : Number(v);
}

export function generateSandboxPauseSpec(input: PauseSpecInput): { spec: OciSpec; warnings: string[] } {
  const { sandbox, host } = input;
  const sc = input.securityContext;
  const warnings: string[] = [];
  const uid = id(sc?.runAsUser?.value, 0);
  const gid = id(sc?.runAsGroup?.value, 0);
  // The pause process needs no capabilities at all.
  const none = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };

  const linux: OciLinux = {
    // A new PID namespace for the pod (the pause becomes its PID 1).
    namespaces: containerNamespaces({
      sandbox: { ...sandbox, hostPid: false },
      options: { network: NamespaceMode.POD, ipc: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, targetId: '', usernsOptions: undefined },
      cgroupVersion: host.cgroupVersion,
    }),
    resources: { ...buildResources(undefined, host, warnings), devices: [{ allow: false, access: 'rwm' }] },
    cgroupsPath: cgroupsPath(host.cgroupManager, sandbox.cgroupParent, sandbox.id),
    ...protectedPaths(undefined, false),
  };
  const sysctl = validateSysctls(sandbox.sysctls, sandbox);
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  const seccomp = resolveSeccomp({
    profile: sc?.seccomp,
    profilePath: sc?.seccompProfilePath,
    privileged: sc?.privileged ?? false,
    bounding: [],
    arch: host.arch ?? process.arch,
    readProfile: host.readSeccompProfile,
  });
  if (seccomp) linux.seccomp = seccomp;
  const labels = selinuxLabels(host.selinuxEnabled ?? false, sc?.selinuxOptions);
  if (labels.mountLabel) linux.mountLabel = labels.mountLabel;

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid, gid, additionalGids: [...new Set([gid, ...(sc?.supplementalGroups ?? []).map(Number)])] },
      args: [PAUSE_BINARY, '-P'],
      env: [`PATH=${DEFAULT_PATH}`],
      cwd: '/',
      capabilities: none,
      noNewPrivileges: true,
      oomScoreAdj: clampOomScoreAdj(input.oomScoreAdj ?? PAUSE_OOM_SCORE_ADJ, host.minOomScoreAdj ?? -1000, warnings),
    },
    root: { path: input.rootfsPath, readonly: true },
    mounts: defaultMounts({ privileged: false, shmPath: sandbox.shmPath }),
    annotations: {
      [ANNOTATION.containerType]: 'sandbox',
      [ANNOTATION.sandboxId]: sandbox.id,
    },
    linux,
  };
  if (labels.processLabel) spec.process.selinuxLabel = labels.processLabel;
  if (linux.namespaces.some((n) => n.type === 'uts' && !n.path)) spec.hostname = sandbox.hostname;
  return { spec, warnings };
}
