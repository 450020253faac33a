// The pod checkpoint crius writes for CheckpointPod and reads for RestorePod
// (docs/checkpoint.md). The CRI leaves the layout to the runtime (KEP-5823);
// ours is a directory using checkpointctl's pod file names:
//
//   pod.dump        the PodSandboxConfig (CRI JSON; metadata and hostname
//                   where checkpointctl reads them)
//   pod.options     {"version": 1, "containers": {<name>: <archive>},
//                    "runtimeHandler": <handler>}
//   pod.containers  {<name>: ContainerConfig (CRI JSON)}: each container's
//                   create request, used when RestorePod is given none
//   <name>.tar      each container's checkpoint archive (archive.ts)
//
// Pure functions; owner: runtime-svc.
import { InvalidArgumentError } from '@crius/common';
import { ContainerConfig, PodSandboxConfig } from '@crius/common/cri';
import { POD_DUMP, POD_OPTIONS } from './archive.js';

export const POD_CONTAINERS = 'pod.containers';
export const POD_LAYOUT_VERSION = 1;

export interface PodOptions {
  version: number;
  /** Container name → its archive's file name in the pod checkpoint directory. */
  containers: Record<string, string>;
  runtimeHandler?: string;
  mountLabel?: string;
  processLabel?: string;
}

/** A container's archive file name: its (DNS-label) name, else its position. */
export function archiveName(containerName: string, index: number): string {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,250}$/.test(containerName) ? `${containerName}.tar` : `container-${index}.tar`;
}

export function podFiles(sandbox: PodSandboxConfig, containers: { name: string; config: ContainerConfig; archive: string }[], runtimeHandler: string) {
  const options: PodOptions = {
    version: POD_LAYOUT_VERSION,
    containers: Object.fromEntries(containers.map((c) => [c.name, c.archive])),
    runtimeHandler,
    mountLabel: '',
    processLabel: '',
  };
  return {
    [POD_DUMP]: JSON.stringify(PodSandboxConfig.toJSON(sandbox), null, 2),
    [POD_OPTIONS]: JSON.stringify(options, null, 2),
    [POD_CONTAINERS]: JSON.stringify(Object.fromEntries(containers.map((c) => [c.name, ContainerConfig.toJSON(c.config)])), null, 2),
  };
}

function json(text: string | undefined, file: string, what: string): unknown {
  if (text === undefined) throw new InvalidArgumentError(`${what} is not a pod checkpoint: it has no ${file}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

export interface PodCheckpoint {
  options: PodOptions;
  sandbox: PodSandboxConfig;
  /** The create requests recorded at checkpoint time, by container name. */
  configs: Map<string, ContainerConfig>;
}

/** Parse the pod files (their texts, undefined when absent); INVALID_ARGUMENT naming what is wrong. */
export function parsePodCheckpoint(files: { options?: string; dump?: string; containers?: string }, what: string): PodCheckpoint {
  const o = json(files.options, POD_OPTIONS, what) as Partial<PodOptions>;
  if (o?.version !== POD_LAYOUT_VERSION) throw new InvalidArgumentError(`${what}: ${POD_OPTIONS} version ${JSON.stringify(o?.version)} is not ${POD_LAYOUT_VERSION}`);
  const containers = o.containers;
  if (typeof containers !== 'object' || containers === null || Array.isArray(containers) || !Object.keys(containers).length) {
    throw new InvalidArgumentError(`${what}: ${POD_OPTIONS} lists no containers`);
  }
  for (const [name, file] of Object.entries(containers)) {
    if (typeof file !== 'string' || !/^[^/\0]+\.tar$/.test(file) || file.startsWith('.')) {
      throw new InvalidArgumentError(`${what}: ${POD_OPTIONS} names ${JSON.stringify(file)} as the archive of ${name}, not a .tar file in the checkpoint directory`);
    }
  }
  const sandbox = PodSandboxConfig.fromJSON(json(files.dump, POD_DUMP, what));
  if (!sandbox.metadata?.name) throw new InvalidArgumentError(`${what}: ${POD_DUMP} has no metadata.name`);
  const configs = new Map<string, ContainerConfig>();
  if (files.containers !== undefined) {
    const c = json(files.containers, POD_CONTAINERS, what);
    if (typeof c !== 'object' || c === null) throw new InvalidArgumentError(`${what}: ${POD_CONTAINERS} is not an object`);
    for (const [name, cfg] of Object.entries(c)) configs.set(name, ContainerConfig.fromJSON(cfg));
  }
  return { options: o as PodOptions, sandbox, configs };
}

/**
 * The config each checkpointed container is restored with: the caller's,
 * matched by name (then they must be exactly the checkpoint's names), else
 * the one recorded at checkpoint time.
 */
export function containerConfigsFor(cp: PodCheckpoint, given: ContainerConfig[], what: string): Map<string, ContainerConfig> {
  const names = Object.keys(cp.options.containers).sort();
  const out = new Map<string, ContainerConfig>();
  if (given.length) {
    const givenNames = given.map((c) => c.metadata?.name ?? '');
    if (givenNames.some((n) => !n)) throw new InvalidArgumentError(`${what}: every container config needs metadata.name`);
    if (new Set(givenNames).size !== givenNames.length) throw new InvalidArgumentError(`${what}: container configs name a container twice`);
    if (givenNames.slice().sort().join('\0') !== names.join('\0')) {
      throw new InvalidArgumentError(`${what}: container configs (${givenNames.join(', ')}) must name exactly the checkpointed containers (${names.join(', ')})`);
    }
    for (const c of given) out.set(c.metadata!.name, c);
    return out;
  }
  for (const name of names) {
    const recorded = cp.configs.get(name);
    out.set(name, recorded ?? ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, logPath: `${name}/0.log` }));
  }
  return out;
}

/** CheckpointPod / RestorePod options: none are defined, so any key is refused (KEP-5823). */
export function checkNoOptions(options: Record<string, string>, what: string): void {
  const keys = Object.keys(options);
  if (keys.length) throw new InvalidArgumentError(`${what}: unsupported option${keys.length > 1 ? 's' : ''} ${keys.join(', ')} (crius defines none)`);
}
