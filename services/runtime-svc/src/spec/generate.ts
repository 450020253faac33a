// Composes a container's OCI config.json from the CRI request, the image, the
// sandbox and host facts. Owned by runtime-svc/spec; pure: every OS fact or
// file read comes in through ContainerSpecInput / HostFacts.
import type { ContainerConfig, SELinuxOption } from '@crius/common/cri';
import { OCI_VERSION, type OciLinux, type OciLinuxDevice, type OciRlimit, type OciSpec } from './oci-types.js';
import type { ImageInput } from './image-config.js';
import { buildProcess } from './process.js';
import { buildMounts, protectedPaths, type PodFiles } from './mounts.js';
import { buildResources, cgroupsPath, type CgroupManager } from './resources.js';
import { containerNamespaces, podSysctls, selinuxLabels, type SandboxNamespaces } from './security.js';
import { resolveAppArmor, type AppArmorHost } from './apparmor.js';
import { applyCdiEdits, type StatCdiDevice } from './cdi-edits.js';
import type { CdiEdits } from './cdi.js';
import { resolveSeccomp, type ProfileReader } from './seccomp.js';
import { buildDevices, type StatDevice } from './devices.js';
import { effectiveStopSignal } from './signals.js';
import type { Signal } from '@crius/common/cri';

/** What runtime-svc knows about the pod sandbox a container joins. */
export interface SandboxInfo extends SandboxNamespaces, PodFiles {
  id: string;
  /** PodSandboxConfig.metadata, for the io.kubernetes.cri.sandbox-* annotations. */
  metadata?: { name: string; namespace: string; uid: string };
  hostname: string;
  /** The sandbox's /dev/shm to bind; absent = a private 64M tmpfs. */
  shmPath?: string;
  /** PodSandboxConfig.linux.cgroup_parent. */
  cgroupParent: string;
  /** PodSandboxConfig.linux.sysctls. */
  sysctls: Record<string, string>;
  /** The pod-level SELinux options (LinuxSandboxSecurityContext.selinux_options). */
  selinuxOptions?: SELinuxOption;
}

/** Facts about this host, read once by the caller. */
export interface HostFacts {
  cgroupVersion: 1 | 2;
  cgroupManager: CgroupManager;
  /** /proc/sys/kernel/cap_last_cap (default 40). */
  capLastCap?: number;
  /** runtime-svc's own bounding capability set (CapBnd); undefined = no limit. */
  hostBounding?: bigint;
  /** runtime-svc's /proc/self/oom_score_adj (default -1000: no clamping). */
  minOomScoreAdj?: number;
  selinuxEnabled?: boolean;
  /** pids.limit per container; absent or <= 0 = unlimited. */
  defaultPidsLimit?: number;
  /** False when cgroup v1 swap accounting (memory.memsw.*) is off. */
  swapSupported?: boolean;
  /** process.arch of the node (default: this process's). */
  arch?: string;
  statDevice?: StatDevice;
  /** Every host device node, for privileged containers. */
  hostDevices?: OciLinuxDevice[];
  readSeccompProfile?: ProfileReader;
  /** [runtime] default_capabilities as CAP_ names (absent: CRI-O's set). */
  defaultCapabilities?: readonly string[];
  /** [runtime] default_ulimits as OCI rlimits (absent or empty: inherited). */
  rlimits?: readonly OciRlimit[];
  /** [runtime] default_sysctls by name; the pod's own win. */
  defaultSysctls?: Record<string, string>;
  /** [runtime] shm_size in bytes, for a container whose sandbox has no /dev/shm of its own. */
  shmSizeBytes?: number;
  /** The node's AppArmor (absent: not enabled). */
  apparmor?: AppArmorHost;
  /** lstat of a host device node named by a CDI spec. */
  statCdiDevice?: StatCdiDevice;
}

export interface ContainerSpecInput {
  containerId: string;
  sandbox: SandboxInfo;
  config: ContainerConfig;
  image: ImageInput;
  /** Image name for the io.kubernetes.cri.image-name annotation (default: config.image.image). */
  imageName?: string;
  /** The container's mounted rootfs. */
  rootfsPath: string;
  /** /proc/<pid>/ns/pid of the target container for NamespaceMode TARGET. */
  targetPidPath?: string;
  host: HostFacts;
  /** Resolved CDI edits of the requested CDI devices, applied last (container/cdi.ts). */
  cdi?: CdiEdits[];
}

export interface GeneratedSpec {
  spec: OciSpec;
  /** Things adjusted or ignored, for the caller to log. */
  warnings: string[];
  /** Host paths of selinux_relabel mounts, to relabel with linux.mountLabel when SELinux is on. */
  relabelPaths: string[];
  /** The signal a graceful stop sends (stop_signal, else the image's STOPSIGNAL, else SIGTERM). */
  stopSignal: Signal;
}

/** containerd's CRI annotation keys (internal/cri/annotations), which hooks and tools read. */
export const ANNOTATION = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

/**
 * The container's labels and annotations verbatim (CRI-O's way: labels win
 * over an annotation of the same key), then our io.kubernetes.cri.* keys,
 * which a request cannot override.
 */
export function containerAnnotations(input: Pick<ContainerSpecInput, 'config' | 'sandbox' | 'imageName'>): Record<string, string> {
  const { config, sandbox } = input;
  const md = sandbox.metadata;
  return {
    ...config.annotations,
    ...config.labels,
    [ANNOTATION.containerType]: 'container',
    [ANNOTATION.sandboxId]: sandbox.id,
    ...(md ? { [ANNOTATION.sandboxName]: md.name, [ANNOTATION.sandboxNamespace]: md.namespace, [ANNOTATION.sandboxUid]: md.uid } : {}),
    [ANNOTATION.containerName]: config.metadata?.name ?? '',
    [ANNOTATION.imageName]: input.imageName ?? config.image?.image ?? '',
  };
}

export function generateContainerSpec(input: ContainerSpecInput): GeneratedSpec {
  const { config, sandbox, host } = input;
  const warnings: string[] = [];
  const stopSignal = effectiveStopSignal(config.stopSignal, input.image.config.stopSignal);
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const readonlyRootfs = sc?.readonlyRootfs ?? false;

  const proc = buildProcess(
    {
      config,
      image: input.image,
      hostname: sandbox.hostname,
      capLastCap: host.capLastCap,
      hostBounding: host.hostBounding,
      minOomScoreAdj: host.minOomScoreAdj,
      defaultCapabilities: host.defaultCapabilities,
      rlimits: host.rlimits,
    },
    warnings,
  );
  const m = buildMounts({
    ...sandbox,
    mounts: config.mounts,
    privileged,
    readonlyRootfs,
    shmSizeBytes: host.shmSizeBytes,
  });
  const namespaces = containerNamespaces({
    sandbox,
    options: sc?.namespaceOptions,
    targetPidPath: input.targetPidPath,
    cgroupVersion: host.cgroupVersion,
  });
  const devices = buildDevices({
    devices: config.devices,
    privileged,
    hostDevices: host.hostDevices,
    statDevice: host.statDevice,
  });
  const resources = buildResources(config.linux?.resources, host, warnings);
  resources.devices = devices.rules;

  const linux: OciLinux = {
    namespaces,
    resources,
    cgroupsPath: cgroupsPath(host.cgroupManager, sandbox.cgroupParent, input.containerId),
    ...protectedPaths(sc, privileged),
  };
  if (devices.devices.length > 0) linux.devices = devices.devices;
  const sysctl = podSysctls(host.defaultSysctls ?? {}, sandbox.sysctls, sandbox, warnings);
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  if (m.rootfsPropagation) linux.rootfsPropagation = m.rootfsPropagation;

  const seccomp = resolveSeccomp({
    profile: sc?.seccomp,
    profilePath: sc?.seccompProfilePath,
    privileged,
    bounding: proc.capabilities?.bounding ?? [],
    arch: host.arch ?? process.arch,
    readProfile: host.readSeccompProfile,
  });
  if (seccomp) linux.seccomp = seccomp;

  const labels = selinuxLabels(host.selinuxEnabled ?? false, sc?.selinuxOptions, sandbox.selinuxOptions);
  if (labels.processLabel) proc.selinuxLabel = labels.processLabel;
  if (labels.mountLabel) linux.mountLabel = labels.mountLabel;
  const apparmorProfile = resolveAppArmor(sc, privileged, host.apparmor);
  if (apparmorProfile) proc.apparmorProfile = apparmorProfile;

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: proc,
    root: { path: input.rootfsPath, readonly: readonlyRootfs },
    mounts: m.mounts,
    annotations: containerAnnotations(input),
    linux,
  };
  // runc can only set the hostname of a UTS namespace it creates.
  if (namespaces.some((n) => n.type === 'uts' && !n.path)) spec.hostname = sandbox.hostname;
  if (input.cdi?.length) {
    applyCdiEdits(spec, input.cdi, host.statCdiDevice ?? (() => {
      throw new Error('no device stat function');
    }));
  }
  return { spec, warnings, relabelPaths: m.relabelPaths, stopSignal };
}
