// What a checkpoint archive says about its container, in the JSON shapes
// checkpointctl and CRI-O use (config.dump is Podman's reduced container
// config; spec.dump is the OCI spec the container ran with), and how a
// restore turns that plus kubelet's request into the new container's
// config. Pure functions; owner: runtime-svc.
import { InvalidArgumentError } from '@crius/common';
import { ImageSpec, type ContainerConfig } from '@crius/common/cri';
import type { OciSpec } from '../spec/oci-types.js';

/** config.dump (checkpointctl lib.ContainerConfig). Times are RFC 3339, Go's zero time when unset. */
export interface ConfigDump {
  id: string;
  name: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  runtime?: string;
  createdTime: string;
  checkpointedTime: string;
  restoredTime: string;
  restored: boolean;
}

/** bind.mounts: the type of each bind mount source, so a restore elsewhere can recreate it. */
export interface BindMountDump {
  source: string;
  destination: string;
  file_type: 'directory' | 'file';
  permissions: number;
}

export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export function nsToRfc3339(ns: string | bigint): string {
  const n = BigInt(ns);
  if (n <= 0n) return GO_ZERO_TIME;
  const ms = Number(n / 1_000_000n);
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

export interface ConfigDumpInput {
  id: string;
  name: string;
  /** The image as the create request named it, its ID, and a digest reference to it. */
  image: string;
  imageId: string;
  imageRef: string;
  runtimeHandler: string;
  createdAtNs: string;
  checkpointedAt: Date;
  restored: boolean;
  restoredAtNs?: string;
}

export function buildConfigDump(c: ConfigDumpInput): ConfigDump {
  return {
    id: c.id,
    name: c.name,
    rootfsImage: c.image,
    rootfsImageRef: c.imageId,
    rootfsImageName: c.imageRef || c.image,
    runtime: c.runtimeHandler,
    createdTime: nsToRfc3339(c.createdAtNs),
    checkpointedTime: c.checkpointedAt.toISOString(),
    restoredTime: c.restoredAtNs ? nsToRfc3339(c.restoredAtNs) : GO_ZERO_TIME,
    restored: c.restored,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse and check config.dump; `what` names the archive in messages. */
export function parseConfigDump(text: string, what: string): ConfigDump {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: config.dump is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.name !== 'string') {
    throw new InvalidArgumentError(`${what}: config.dump has no container id and name`);
  }
  const images = [v.rootfsImageRef, v.rootfsImageName, v.rootfsImage].filter((i) => typeof i === 'string' && i);
  if (!images.length) throw new InvalidArgumentError(`${what}: config.dump names no image (rootfsImage, rootfsImageRef, rootfsImageName)`);
  return v as unknown as ConfigDump;
}

/** Parse and check spec.dump: an OCI runtime spec with a process and a root. */
export function parseSpecDump(text: string, what: string): OciSpec {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: spec.dump is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(v) || typeof v.ociVersion !== 'string' || !isObject(v.process) || !isObject(v.root)) {
    throw new InvalidArgumentError(`${what}: spec.dump is not an OCI runtime spec (ociVersion, process, root)`);
  }
  return v as unknown as OciSpec;
}

/** Images to look the restored rootfs up by, most exact first. */
export function rootfsImageCandidates(c: ConfigDump): string[] {
  return [...new Set([c.rootfsImageRef, c.rootfsImageName, c.rootfsImage].filter((i): i is string => !!i))];
}

/**
 * Mounts the runtime sets up itself (or from the new pod) and a restore
 * therefore need not be given: the same set CRI-O ignores.
 */
const RUNTIME_MOUNTS = new Set([
  '/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/dev/shm',
  '/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/etc/passwd', '/etc/group',
  '/run/secrets', '/run/.containerenv', '/dev/termination-log',
]);

/**
 * The config the restored container is created with: kubelet's request (its
 * name, labels, annotations, mounts, resources, security context, log path),
 * on the image the checkpoint was taken from, with the process description
 * of the checkpoint where the request gives none. Every mount the checkpoint
 * had must be in the request (CRIU restores the same mount tree), else
 * INVALID_ARGUMENT listing the missing ones.
 */
export function restoredContainerConfig(req: ContainerConfig, spec: OciSpec, image: string, what: string): ContainerConfig {
  const missing: string[] = [];
  for (const m of spec.mounts ?? []) {
    if (RUNTIME_MOUNTS.has(m.destination)) continue;
    if (!req.mounts.some((r) => r.containerPath === m.destination)) missing.push(m.destination);
  }
  if (missing.length) throw new InvalidArgumentError(`${what}: restoring needs these mounts in the container config: ${missing.join(', ')}`);
  const p = spec.process;
  return {
    ...req,
    image: ImageSpec.fromPartial({ ...req.image, image }),
    command: req.command.length ? req.command : (p.args ?? []),
    args: req.command.length ? req.args : [],
    workingDir: req.workingDir || p.cwd || '',
    envs: req.envs.length ? req.envs : (p.env ?? []).flatMap((e) => (e.indexOf('=') > 0 ? [{ key: e.slice(0, e.indexOf('=')), value: e.slice(e.indexOf('=') + 1) }] : [])),
  };
}
