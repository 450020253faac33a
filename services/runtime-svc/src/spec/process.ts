// The OCI `process` of a container: argv from CRI command/args and the image
// Entrypoint/Cmd, env, cwd, terminal, user, capabilities, no_new_privs and the
// OOM score. Owned by runtime-svc/spec; pure.
//
// run_as_non_root is not checked here: CRI has no such field — kubelet checks
// runAsNonRoot itself against the uid the image status reports.
import { InvalidArgumentError } from '@crius/common';
import { SupplementalGroupsPolicy, type ContainerConfig, type KeyValue } from '@crius/common/cri';
import type { OciProcess, OciRlimit } from './oci-types.js';
import type { ImageInput } from './image-config.js';
import { resolveUser } from './user.js';
import { buildCapabilities } from './capabilities.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Kubernetes' rule: command set → command + args (image ignored); only args
 * set → image Entrypoint + args; neither → Entrypoint + Cmd. An Entrypoint of
 * [""] means "no entrypoint" (docker `--entrypoint ""`).
 */
export function resolveArgs(command: string[], args: string[], image: { entrypoint: string[]; cmd: string[] }): string[] {
  let argv: string[];
  if (command.length > 0) {
    argv = [...command, ...args];
  } else {
    const entry = image.entrypoint.length === 1 && image.entrypoint[0] === '' ? [] : image.entrypoint;
    argv = [...entry, ...(args.length > 0 ? args : image.cmd)];
  }
  if (argv.length === 0) {
    throw new InvalidArgumentError('no command specified: the request has no command/args and the image no Entrypoint/Cmd');
  }
  return argv;
}

function envKey(entry: string): string {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
}

/** Replace an entry with the same key in place, or append it. */
function setEnv(env: string[], entry: string): void {
  const key = envKey(entry);
  const i = env.findIndex((e) => envKey(e) === key);
  if (i >= 0) env[i] = entry;
  else env.push(entry);
}

/**
 * HOSTNAME first, then the image's env, then the request's env; a later entry
 * with the same key replaces the earlier one where it stood. PATH gets the
 * usual default when nobody set it.
 */
export function mergeEnv(imageEnv: string[], configEnv: KeyValue[], hostname: string): string[] {
  const env: string[] = [];
  if (hostname !== '') setEnv(env, `HOSTNAME=${hostname}`);
  for (const e of imageEnv) if (envKey(e) !== '') setEnv(env, e);
  for (const kv of configEnv) {
    if (kv.key === '' || kv.key.includes('=')) {
      throw new InvalidArgumentError(`invalid environment variable name "${kv.key}"`);
    }
    setEnv(env, `${kv.key}=${kv.value}`);
  }
  if (!env.some((e) => envKey(e) === 'PATH')) env.push(`PATH=${DEFAULT_PATH}`);
  return env;
}

/** The request's working dir, else the image's, else "/". */
export function resolveWorkingDir(configDir: string, imageDir: string): string {
  const dir = configDir || imageDir || '/';
  if (!dir.startsWith('/')) {
    throw new InvalidArgumentError(`working directory "${dir}" is not an absolute path`);
  }
  return dir;
}

/**
 * oom_score_adj below our own cannot be set without CAP_SYS_RESOURCE (runc then
 * dies with "can't get final child's PID from pipe: EOF"), so it is raised to
 * the floor with a warning, like containerd's restrict_oom_score_adj.
 */
export function clampOomScoreAdj(requested: number, min: number, warnings: string[]): number {
  if (!Number.isInteger(requested) || requested < -1000 || requested > 1000) {
    throw new InvalidArgumentError(`oom_score_adj ${requested} is outside -1000..1000`);
  }
  if (requested < min) {
    warnings.push(`oom_score_adj ${requested} is below runtime-svc's own ${min}; using ${min}`);
    return min;
  }
  return requested;
}

export interface ProcessInput {
  config: ContainerConfig;
  image: ImageInput;
  /** The sandbox hostname, exported as HOSTNAME. */
  hostname: string;
  capLastCap?: number;
  /** Capabilities the runtime holds (see CapabilityRequest.hostBounding). */
  hostBounding?: bigint;
  /** The caller's /proc/self/oom_score_adj (default -1000: no clamping). */
  minOomScoreAdj?: number;
  /** [runtime] default_capabilities as CAP_ names; absent = CRI-O's set. */
  defaultCapabilities?: readonly string[];
  /** [runtime] default_ulimits; absent or empty = inherit runtime-svc's. */
  rlimits?: readonly OciRlimit[];
}

export function buildProcess(input: ProcessInput, warnings: string[]): OciProcess {
  const { config, image } = input;
  const sc = config.linux?.securityContext;
  const img = image.config;
  const user = resolveUser(
    {
      runAsUser: sc?.runAsUser?.value,
      runAsGroup: sc?.runAsGroup?.value,
      runAsUsername: sc?.runAsUsername,
      supplementalGroups: sc?.supplementalGroups,
      strictGroups: sc?.supplementalGroupsPolicy === SupplementalGroupsPolicy.Strict,
      imageUser: img.user,
    },
    image,
  );
  const proc: OciProcess = {
    terminal: config.tty,
    user,
    args: resolveArgs(config.command, config.args, img),
    env: mergeEnv(img.env, config.envs, input.hostname),
    cwd: resolveWorkingDir(config.workingDir, img.workingDir),
    capabilities: buildCapabilities(
      {
        add: sc?.capabilities?.addCapabilities,
        drop: sc?.capabilities?.dropCapabilities,
        ambient: sc?.capabilities?.addAmbientCapabilities,
        privileged: sc?.privileged,
        defaults: input.defaultCapabilities,
        capLastCap: input.capLastCap,
        hostBounding: input.hostBounding,
      },
      warnings,
    ),
    noNewPrivileges: sc?.noNewPrivs ?? false,
  };
  if (input.rlimits && input.rlimits.length > 0) proc.rlimits = input.rlimits.map((r) => ({ ...r }));
  const oom = config.linux?.resources?.oomScoreAdj;
  if (oom !== undefined) {
    proc.oomScoreAdj = clampOomScoreAdj(Number(oom), input.minOomScoreAdj ?? -1000, warnings);
  }
  return proc;
}
