// The durable records of runtime-svc (the only writer of sandbox and
// container state). The CRI configs are kept as the protobuf bytes kubelet
// sent (base64), so nothing of the request is lost or restated.

export const RECORD_VERSION = 1;

export type SandboxState = 'ready' | 'notready';

export interface SandboxRecord {
  version: number;
  id: string;
  /** Unique name derived from the metadata (k8s_<name>_<namespace>_<uid>_<attempt>). */
  name: string;
  /** PodSandboxConfig protobuf, base64. */
  config: string;
  state: SandboxState;
  /** Unix nanoseconds, as a decimal string. */
  createdAt: string;
  runtimeHandler: string;
  /** Paths of what the sandbox holds; empty when not (yet) made or host-shared. */
  netnsPath: string;
  ipcPath: string;
  utsPath: string;
  shmPath: string;
  resolvPath: string;
  hostsPath: string;
  hostnamePath: string;
  cgroupParent: string;
  ips: string[];
  /** The catatonit pause process holding a shared PID namespace, when the pod has one. */
  pause?: { pid: number; startTime: string };
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerRecord {
  version: number;
  id: string;
  sandboxId: string;
  /** Unique name (k8s_<container>_<pod>_<namespace>_<uid>_<attempt>). */
  name: string;
  /** ContainerConfig protobuf, base64. */
  config: string;
  /** The image as the request named it, and the image ID it resolved to. */
  image: string;
  imageRef: string;
  imageId: string;
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  /** Container init PID with its start time (so a reused PID is never signalled). */
  pid: number;
  pidStartTime: string;
  logPath: string;
  bundle: string;
  rootfs: string;
  runtimeHandler: string;
  /**
   * The CRI Signal a graceful stop sends: stop_signal, else the image's
   * STOPSIGNAL, else SIGTERM, fixed at create. (Absent in records written
   * before it was kept: stop_signal, else SIGTERM.)
   */
  stopSignal?: number;
  /** The process's uid, gid and groups as given to the OCI runtime (after the image's passwd/group). */
  user?: { uid: number; gid: number; additionalGids: number[] };
  /**
   * LinuxContainerResources protobuf, base64, as currently applied: the
   * create's, replaced by each successful UpdateContainerResources.
   * (Absent in older records: the create's, from config.)
   */
  resources?: string;
  /**
   * A container created from a checkpoint archive and not started yet:
   * StartContainer restores the processes from these CRIU images instead of
   * starting the image's command (container/restore.ts).
   */
  restore?: { imagesDir: string; archive: string };
  /** The checkpoint archive a restored container came from, and when the restore ran (ns). */
  restoredFrom?: { archive: string; at: string };
}
