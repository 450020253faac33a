// The text of crius-default, the AppArmor profile RuntimeDefault applies.
// Owned by runtime-svc/spec; pure (whether Debian's tunables and base
// abstraction exist is the caller's check).
//
// What it is for, as CRI-O's crio-default and docker-default: a container
// keeps ordinary file, network and capability use (its capability bounding
// set and seccomp already limit those), and loses the kernel interfaces a
// container must not write: new mounts, /proc outside its own processes and
// kernel.shm*, /sys outside the cgroup tree, firmware and securityfs.

export interface ProfileIncludes {
  /** /etc/apparmor.d/tunables/global exists (it defines @{PROC}). */
  tunables: boolean;
  /** /etc/apparmor.d/abstractions/base exists. */
  base: boolean;
}

export function defaultProfileText(name: string, inc: ProfileIncludes): string {
  const self = name;
  return [
    `# ${name}: the AppArmor profile crius applies for RuntimeDefault (written by runtime-svc).`,
    inc.tunables ? 'include <tunables/global>' : '@{PROC}=/proc/',
    '',
    `profile ${name} flags=(attach_disconnected,mediate_deleted) {`,
    inc.base ? '  include <abstractions/base>' : '',
    '',
    '  # Ordinary use; capabilities are bounded by the OCI spec, syscalls by seccomp.',
    '  file,',
    '  network,',
    '  capability,',
    '  umount,',
    '',
    '  # Signals and ptrace inside the container, and signals from the node (the',
    '  # OCI runtime and unconfined processes such as the monitor).',
    `  signal (send,receive) peer=${self},`,
    '  signal (receive) peer=unconfined,',
    '  signal (receive) peer={/usr/bin/,/usr/sbin/,/usr/local/bin/,/usr/local/sbin/,}{runc,crun},',
    `  ptrace (trace,read) peer=${self},`,
    '',
    '  deny mount,',
    '',
    '  # /proc: no writes except under /proc/<pid>/ and to /proc/sys/kernel/shm*.',
    '  deny @{PROC}/* w,',
    '  deny @{PROC}/{[^0-9s]*,[0-9]*[^0-9]*,s[^y]*,sy[^s]*,sys?*}/** w,',
    '  deny @{PROC}/sys/{[^k]*,k[^e]*,kernel?*}/** w,',
    '  deny @{PROC}/sys/kernel/{[^s],s[^h],sh[^m]}** w,',
    '  deny @{PROC}/{kcore,sysrq-trigger} rwklx,',
    '',
    '  # /sys: read-only except the cgroup tree; firmware and securityfs not even readable.',
    '  deny /sys/{[^f]*,f[^s]*,fs/[^c]*,fs/c[^g]*,fs/cg[^r]*}/** wklx,',
    '  deny /sys/{firmware,kernel/security}/** rwklx,',
    '}',
    '',
  ]
    .filter((l, i, all) => l !== '' || all[i - 1] !== '')
    .join('\n');
}
