import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { SecurityProfile_ProfileType as T } from '@crius/common/cri';
import { parseProfile, resolveSeccomp, type SeccompInput } from './seccomp.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from './seccomp-default.js';
import { DEFAULT_CAPABILITIES } from './capabilities.js';
import type { OciSeccomp } from './oci-types.js';

const caps = [...DEFAULT_CAPABILITIES];
const base: SeccompInput = { privileged: false, bounding: caps, arch: 'x64' };
const allowed = (p: OciSeccomp) =>
  new Set(p.syscalls!.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));

describe('defaultSeccompProfile', () => {
  const p = defaultSeccompProfile(caps, 'x64');

  it('denies by default with EPERM, for x86_64, x86 and x32', () => {
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.defaultErrnoRet).toBe(1);
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('allows ordinary syscalls and blocks namespace, mount and ptrace calls', () => {
    const a = allowed(p);
    for (const s of ['read', 'write', 'execve', 'openat', 'futex', 'arch_prctl', 'getdents64']) expect(a.has(s)).toBe(true);
    for (const s of ['unshare', 'mount', 'umount2', 'setns', 'ptrace', 'reboot', 'init_module', 'bpf', 'keyctl', 'add_key']) {
      expect(a.has(s)).toBe(false);
    }
  });

  it('allows clone only without namespace flags and makes clone3 fail with ENOSYS', () => {
    expect(p.syscalls).toContainEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(p.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });

  it('opens capability-gated syscalls when the capability is held', () => {
    const admin = allowed(defaultSeccompProfile([...caps, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'], 'x64'));
    for (const s of ['unshare', 'mount', 'setns', 'clone', 'clone3', 'ptrace']) expect(admin.has(s)).toBe(true);
    const withAdmin = defaultSeccompProfile(['CAP_SYS_ADMIN'], 'x64');
    expect(withAdmin.syscalls!.some((s) => s.names.includes('clone3') && s.action === 'SCMP_ACT_ERRNO')).toBe(false);
  });

  it('uses the ARM architectures and syscalls on arm64', () => {
    const arm = defaultSeccompProfile(caps, 'arm64');
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(allowed(arm).has('set_tls')).toBe(true);
    expect(allowed(arm).has('arch_prctl')).toBe(false);
  });
});

describe('resolveSeccomp', () => {
  const readProfile = (path: string) => {
    if (path === '/var/lib/kubelet/seccomp/audit.json') return '{"defaultAction":"SCMP_ACT_LOG"}';
    throw new Error(`ENOENT: ${path}`);
  };

  it('RuntimeDefault → the default profile; Unconfined → none', () => {
    expect(resolveSeccomp({ ...base, profile: { profileType: T.RuntimeDefault, localhostRef: '' } })?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(resolveSeccomp({ ...base, profile: { profileType: T.Unconfined, localhostRef: '' } })).toBeUndefined();
  });

  it('no profile at all → none', () => {
    expect(resolveSeccomp(base)).toBeUndefined();
  });

  it('Localhost → the file read through the injected reader', () => {
    const p = resolveSeccomp({ ...base, readProfile, profile: { profileType: T.Localhost, localhostRef: '/var/lib/kubelet/seccomp/audit.json' } });
    expect(p).toEqual({ defaultAction: 'SCMP_ACT_LOG', syscalls: [] });
  });

  it('Localhost errors: relative path, unreadable file, bad JSON', () => {
    const rel = { ...base, readProfile, profile: { profileType: T.Localhost, localhostRef: 'audit.json' } };
    expect(() => resolveSeccomp(rel)).toThrow(/"audit.json" is not an absolute path/);
    const missing = { ...base, readProfile, profile: { profileType: T.Localhost, localhostRef: '/nope.json' } };
    expect(() => resolveSeccomp(missing)).toThrow(InvalidArgumentError);
    expect(() => resolveSeccomp(missing)).toThrow(/\/nope.json/);
    const bad = { ...base, readProfile: () => '{', profile: { profileType: T.Localhost, localhostRef: '/x.json' } };
    expect(() => resolveSeccomp(bad)).toThrow(/invalid JSON/);
  });

  it('understands the deprecated profile path strings', () => {
    expect(resolveSeccomp({ ...base, profilePath: 'runtime/default' })?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(resolveSeccomp({ ...base, profilePath: 'docker/default' })?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(resolveSeccomp({ ...base, profilePath: 'unconfined' })).toBeUndefined();
    expect(resolveSeccomp({ ...base, readProfile, profilePath: 'localhost//var/lib/kubelet/seccomp/audit.json' })?.defaultAction).toBe('SCMP_ACT_LOG');
    expect(() => resolveSeccomp({ ...base, profilePath: 'weird' })).toThrow(/"weird"/);
  });

  it('privileged containers are unconfined whatever the profile', () => {
    expect(resolveSeccomp({ ...base, privileged: true, profile: { profileType: T.RuntimeDefault, localhostRef: '' } })).toBeUndefined();
  });
});

describe('parseProfile (Docker form)', () => {
  it('converts name, archMap and includes/excludes', () => {
    const docker = JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
      ],
      syscalls: [
        { name: 'read', action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_CHOWN'] } },
      ],
    });
    const p = parseProfile(docker, '/p.json', { bounding: ['CAP_CHOWN'], arch: 'x64' });
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    expect(p.syscalls).toEqual([
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
    ]);
  });

  it('rejects a profile without defaultAction', () => {
    expect(() => parseProfile('{}', '/p.json', base)).toThrow(/missing defaultAction/);
  });
});
