// Which AppArmor profile a container runs under (OCI process.apparmorProfile),
// from the CRI security context and what the kernel offers. Owned by
// runtime-svc/spec; pure: the node's AppArmor state comes in as AppArmorHost.
//
// As containerd and CRI-O: RuntimeDefault, or nothing asked of an
// unprivileged container, is the runtime's own profile (crius-default);
// Unconfined, or nothing asked of a privileged one, is none; Localhost
// names a profile the node must already have loaded. Without AppArmor in
// the kernel the first two apply nothing and Localhost is refused.
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import { SecurityProfile_ProfileType, type LinuxContainerSecurityContext } from '@crius/common/cri';

export const APPARMOR_DEFAULT_PROFILE = 'crius-default';

/** The node's AppArmor, as runtime-svc found it (os/apparmor.ts). */
export interface AppArmorHost {
  enabled: boolean;
  /** Why it is off (shown in errors), e.g. "/sys/module/apparmor is missing". */
  reason?: string;
  /** The profile RuntimeDefault means (default crius-default). */
  defaultProfile?: string;
  /** Whether a profile of this name is loaded in the kernel. */
  isLoaded: (name: string) => boolean;
}

export type AppArmorRequest =
  | { kind: 'runtime-default' }
  | { kind: 'unconfined' }
  | { kind: 'localhost'; name: string }
  | { kind: 'unset' };

/** The structured `apparmor` field wins; the deprecated `apparmor_profile` string is the fallback (kubelet sends both). */
export function apparmorRequest(sc: Pick<LinuxContainerSecurityContext, 'apparmor' | 'apparmorProfile'> | undefined): AppArmorRequest {
  const p = sc?.apparmor;
  if (p) {
    switch (p.profileType) {
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { kind: 'runtime-default' };
      case SecurityProfile_ProfileType.Unconfined:
        return { kind: 'unconfined' };
      case SecurityProfile_ProfileType.Localhost:
        return localhost(p.localhostRef.replace(/^localhost\//, ''));
      default:
        throw new InvalidArgumentError(`unknown AppArmor profile type ${p.profileType}`);
    }
  }
  const s = sc?.apparmorProfile ?? '';
  if (s === '') return { kind: 'unset' };
  if (s === 'runtime/default') return { kind: 'runtime-default' };
  if (s === 'unconfined') return { kind: 'unconfined' };
  if (s.startsWith('localhost/')) return localhost(s.slice('localhost/'.length));
  throw new InvalidArgumentError(`AppArmor profile "${s}" is not runtime/default, unconfined or localhost/<name>`);
}

function localhost(name: string): AppArmorRequest {
  if (name === '') throw new InvalidArgumentError('an AppArmor Localhost profile needs a profile name');
  return { kind: 'localhost', name };
}

/** The profile name for process.apparmorProfile, or undefined for none. */
export function resolveAppArmor(
  sc: Pick<LinuxContainerSecurityContext, 'apparmor' | 'apparmorProfile'> | undefined,
  privileged: boolean,
  host: AppArmorHost | undefined,
): string | undefined {
  const req = apparmorRequest(sc);
  const enabled = host?.enabled ?? false;
  if (req.kind === 'localhost') {
    // FailedPrecondition, not InvalidArgument: the request is well formed; the
    // node is not in the state it needs (gRPC: "the system is not in a state
    // required for the operation"), and loading the profile fixes it.
    if (!enabled) {
      throw new FailedPreconditionError(
        `AppArmor profile "${req.name}" requested, but AppArmor is not enabled in this node's kernel${host?.reason ? ` (${host.reason})` : ''}`,
      );
    }
    if (!host!.isLoaded(req.name)) {
      throw new FailedPreconditionError(`AppArmor profile "${req.name}" is not loaded on this node (load it with apparmor_parser)`);
    }
    return req.name;
  }
  if (!enabled || req.kind === 'unconfined') return undefined;
  if (req.kind === 'unset' && privileged) return undefined;
  return host!.defaultProfile ?? APPARMOR_DEFAULT_PROFILE;
}
