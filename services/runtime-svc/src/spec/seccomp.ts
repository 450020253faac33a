// Chooses a container's seccomp filter from the CRI SecurityProfile (or the
// deprecated seccomp_profile_path string) and loads Localhost profiles through
// an injected reader. Owned by runtime-svc/spec; pure.
import { InvalidArgumentError } from '@crius/common';
import { SecurityProfile_ProfileType, type SecurityProfile } from '@crius/common/cri';
import type { OciSeccomp, OciSyscallRule } from './oci-types.js';
import { defaultSeccompProfile } from './seccomp-default.js';

/** Reads a Localhost profile file (the caller's fs access). */
export type ProfileReader = (path: string) => string;

export interface SeccompInput {
  profile?: SecurityProfile;
  /** Deprecated CRI string: "runtime/default", "docker/default", "unconfined", "localhost/<abs path>". */
  profilePath?: string;
  privileged: boolean;
  /** The container's bounding capabilities (CAP_ names) for the default profile. */
  bounding: string[];
  /** Node's process.arch ("x64", "arm64"). */
  arch: string;
  readProfile?: ProfileReader;
}

type Choice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'localhost'; path: string };

function choose(profile: SecurityProfile | undefined, profilePath: string | undefined): Choice {
  if (profile) {
    switch (profile.profileType) {
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { kind: 'default' };
      case SecurityProfile_ProfileType.Unconfined:
        return { kind: 'unconfined' };
      case SecurityProfile_ProfileType.Localhost:
        return { kind: 'localhost', path: profile.localhostRef };
      default:
        throw new InvalidArgumentError(`unknown seccomp profile type ${profile.profileType}`);
    }
  }
  const p = profilePath ?? '';
  if (p === '' || p === 'unconfined') return { kind: 'unconfined' };
  if (p === 'runtime/default' || p === 'docker/default') return { kind: 'default' };
  if (p.startsWith('localhost/')) return { kind: 'localhost', path: p.slice('localhost/'.length) };
  throw new InvalidArgumentError(`unknown seccomp profile "${p}"`);
}

/** The filter to put in linux.seccomp, or undefined for none. */
export function resolveSeccomp(input: SeccompInput): OciSeccomp | undefined {
  if (input.privileged) return undefined; // privileged containers run unconfined
  const c = choose(input.profile, input.profilePath);
  if (c.kind === 'unconfined') return undefined;
  if (c.kind === 'default') return defaultSeccompProfile(input.bounding, input.arch);
  if (!c.path.startsWith('/')) {
    throw new InvalidArgumentError(`seccomp localhost profile "${c.path}" is not an absolute path`);
  }
  if (!input.readProfile) throw new InvalidArgumentError(`seccomp localhost profile ${c.path}: no profile reader`);
  let text: string;
  try {
    text = input.readProfile(c.path);
  } catch (err) {
    throw new InvalidArgumentError(`seccomp localhost profile ${c.path}: cannot read it`, { cause: err });
  }
  return parseProfile(text, c.path, input);
}

interface DockerCondition {
  caps?: string[];
  arches?: string[];
}
type RawRule = Partial<OciSyscallRule> & { name?: string; includes?: DockerCondition; excludes?: DockerCondition };
interface RawProfile extends Omit<Partial<OciSeccomp>, 'syscalls'> {
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: RawRule[];
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };
const SCMP_ARCH: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };

function conditionHolds(cond: DockerCondition | undefined, caps: string[], goArch: string, all: boolean): boolean {
  if (!cond) return all;
  const capHit = cond.caps ? (all ? cond.caps.every((c) => caps.includes(c)) : cond.caps.some((c) => caps.includes(c))) : all;
  const archHit = cond.arches ? cond.arches.includes(goArch) : all;
  return all ? capHit && archHit : capHit || archHit;
}

/**
 * Accepts the OCI form and Docker's profile form (single "name", "archMap",
 * "includes"/"excludes" on caps and arches), which kubelet users commonly have.
 */
export function parseProfile(text: string, where: string, input: Pick<SeccompInput, 'bounding' | 'arch'>): OciSeccomp {
  let raw: RawProfile;
  try {
    raw = JSON.parse(text) as RawProfile;
  } catch (err) {
    throw new InvalidArgumentError(`seccomp profile ${where}: invalid JSON`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.defaultAction !== 'string') {
    throw new InvalidArgumentError(`seccomp profile ${where}: missing defaultAction`);
  }
  const goArch = GO_ARCH[input.arch] ?? input.arch;
  let architectures = raw.architectures;
  if (!architectures && raw.archMap) {
    const mine = raw.archMap.find((a) => a.architecture === SCMP_ARCH[input.arch]);
    architectures = mine ? [mine.architecture, ...(mine.subArchitectures ?? [])] : [];
  }
  const syscalls: OciSyscallRule[] = [];
  for (const r of raw.syscalls ?? []) {
    if (!conditionHolds(r.includes, input.bounding, goArch, true)) continue;
    if (r.excludes && conditionHolds(r.excludes, input.bounding, goArch, false)) continue;
    const names = r.names ?? (r.name ? [r.name] : []);
    if (names.length === 0 || typeof r.action !== 'string') {
      throw new InvalidArgumentError(`seccomp profile ${where}: a syscall rule lacks names or action`);
    }
    const rule: OciSyscallRule = { names, action: r.action };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (r.args && r.args.length > 0) rule.args = r.args;
    syscalls.push(rule);
  }
  const out: OciSeccomp = { defaultAction: raw.defaultAction, syscalls };
  if (raw.defaultErrnoRet !== undefined) out.defaultErrnoRet = raw.defaultErrnoRet;
  if (architectures) out.architectures = architectures;
  if (raw.flags) out.flags = raw.flags;
  return out;
}
