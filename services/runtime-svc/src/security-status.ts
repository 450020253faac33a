// What runtime-svc found of the node's AppArmor and SELinux, said once at
// start (a log line) and in every Health reply (conditions the gateway shows
// in verbose Status info), so an operator sees why RuntimeDefault applies no
// profile or a Localhost profile is refused. Not part of RuntimeReady: a node
// without an LSM still runs containers.
import type { Condition } from '@crius/common/proto/health';
import { APPARMOR_DEFAULT_PROFILE } from './spec/index.js';
import type { Runtime } from './runtime.js';

export const APPARMOR_CONDITION = 'AppArmor';
export const SELINUX_CONDITION = 'SELinux';

export async function announceSecurityModules(rt: Runtime): Promise<void> {
  const aa = rt.apparmor.state;
  if (!aa.enabled) {
    rt.log.warn(
      { apparmor: false, reason: aa.reason },
      `AppArmor is not enabled on this node: ${aa.reason}; RuntimeDefault applies no AppArmor profile and Localhost profiles are refused`,
    );
  } else {
    try {
      await rt.apparmor.ensureDefault();
      rt.log.info({ apparmor: true, profile: APPARMOR_DEFAULT_PROFILE }, `AppArmor is enabled; RuntimeDefault applies ${APPARMOR_DEFAULT_PROFILE}`);
    } catch (err) {
      // Not fatal: each create tries again and fails clearly if it still cannot.
      rt.log.error({ err: (err as Error).message }, `AppArmor is enabled but ${APPARMOR_DEFAULT_PROFILE} could not be loaded`);
    }
  }
  rt.log.info({ selinux: rt.labeler.enabled }, rt.labeler.enabled ? 'SELinux is enabled: selinux_relabel mounts are relabelled' : 'SELinux is not enabled on this node: selinux_relabel mounts are not relabelled');
}

export function securityConditions(rt: Runtime): Condition[] {
  const aa = rt.apparmor.state;
  return [
    aa.enabled
      ? { type: APPARMOR_CONDITION, status: true, reason: 'AppArmorEnabled', message: `RuntimeDefault applies ${APPARMOR_DEFAULT_PROFILE}` }
      : { type: APPARMOR_CONDITION, status: false, reason: 'AppArmorNotEnabled', message: `${aa.reason}; RuntimeDefault applies no profile, Localhost profiles are refused` },
    rt.labeler.enabled
      ? { type: SELINUX_CONDITION, status: true, reason: 'SELinuxEnabled', message: 'selinux_relabel mounts are relabelled' }
      : { type: SELINUX_CONDITION, status: false, reason: 'SELinuxNotEnabled', message: 'no selinuxfs at /sys/fs/selinux; selinux_relabel is a no-op' },
  ];
}
