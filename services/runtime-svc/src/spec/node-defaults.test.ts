// Spec generation with the [runtime] node defaults and the node's AppArmor
// (issue 16): what each case puts in config.json.
import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError, parseUlimit } from '@crius/common';
import { ContainerConfig, type DeepPartial, SecurityProfile_ProfileType as T } from '@crius/common/cri';
import { generateContainerSpec, type ContainerSpecInput, type HostFacts } from './generate.js';
import type { AppArmorHost } from './apparmor.js';
import { ociJson, parseOciJson } from './oci-json.js';

const base: HostFacts = { cgroupVersion: 1, cgroupManager: 'cgroupfs', minOomScoreAdj: -1000, arch: 'x64' };

function gen(config: DeepPartial<ContainerConfig>, host: Partial<HostFacts> = {}, sandbox: Partial<ContainerSpecInput['sandbox']> = {}) {
  return generateContainerSpec({
    containerId: 'c1',
    sandbox: { id: 'sb', hostname: 'h', hostNetwork: false, hostIpc: false, hostPid: false, netnsPath: '/n', cgroupParent: '/p', sysctls: {}, shmPath: '/s', ...sandbox },
    config: ContainerConfig.fromPartial({ metadata: { name: 'c' }, command: ['sh'], ...config }),
    image: { config: { user: '', env: [], entrypoint: [], cmd: [], workingDir: '', labels: {} } },
    rootfsPath: '/r',
    host: { ...base, ...host },
  });
}

const aa = (loaded: string[], enabled = true): AppArmorHost => ({ enabled, reason: enabled ? undefined : 'no module', isLoaded: (n) => loaded.includes(n) });

describe('node defaults in the spec', () => {
  it('gives default_capabilities, then the request adds and drops', () => {
    const caps = (sc: object) => gen({ linux: { securityContext: sc } }, { defaultCapabilities: ['CAP_CHOWN', 'CAP_NET_RAW'] }).spec.process.capabilities!.bounding;
    expect(caps({})).toEqual(['CAP_CHOWN', 'CAP_NET_RAW']);
    expect(caps({ capabilities: { addCapabilities: ['KILL'], dropCapabilities: ['NET_RAW'] } })).toEqual(['CAP_CHOWN', 'CAP_KILL']);
    expect(gen({}, { defaultCapabilities: [] }).spec.process.capabilities!.bounding).toEqual([]);
  });

  it('puts default_ulimits in process.rlimits, unlimited as 2^64-1 exactly', () => {
    const { spec } = gen({}, { rlimits: [parseUlimit('nofile=1024:2048'), parseUlimit('core=-1')] });
    expect(spec.process.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
      { type: 'RLIMIT_CORE', soft: 18446744073709551615n, hard: 18446744073709551615n },
    ]);
    const text = ociJson(spec);
    expect(text).toContain('"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615');
    expect(parseOciJson<typeof spec>(text).process.rlimits).toEqual(spec.process.rlimits);
    expect(gen({}).spec.process.rlimits).toBeUndefined();
  });

  it('merges default_sysctls under the pod sysctls', () => {
    const { spec } = gen({}, { defaultSysctls: { 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shmmni': '10' } }, { sysctls: { 'kernel.shmmni': '20' } });
    expect(spec.linux.sysctl).toEqual({ 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shmmni': '20' });
  });

  it('sizes a private /dev/shm by shm_size', () => {
    const { spec } = gen({}, { shmSizeBytes: 128 * 1024 * 1024 }, { shmPath: undefined });
    expect(spec.mounts.find((m) => m.destination === '/dev/shm')!.options).toContain(`size=${128 * 1024 * 1024}`);
  });
});

describe('AppArmor in the spec', () => {
  const profile = (sc: object, host?: AppArmorHost, privileged = false) =>
    gen({ linux: { securityContext: { ...sc, privileged } } }, { apparmor: host }).spec.process.apparmorProfile;

  it('applies crius-default for RuntimeDefault and for nothing asked, on an AppArmor node', () => {
    expect(profile({ apparmor: { profileType: T.RuntimeDefault } }, aa([]))).toBe('crius-default');
    expect(profile({}, aa([]))).toBe('crius-default');
    expect(profile({ apparmorProfile: 'runtime/default' }, aa([]))).toBe('crius-default');
  });

  it('leaves Unconfined and an unasked privileged container unconfined', () => {
    expect(profile({ apparmor: { profileType: T.Unconfined } }, aa([]))).toBeUndefined();
    expect(profile({ apparmorProfile: 'unconfined' }, aa([]))).toBeUndefined();
    expect(profile({}, aa([]), true)).toBeUndefined();
    expect(profile({ apparmor: { profileType: T.RuntimeDefault } }, aa([]), true)).toBe('crius-default');
  });

  it('applies a loaded Localhost profile and refuses one that is not loaded', () => {
    expect(profile({ apparmor: { profileType: T.Localhost, localhostRef: 'k8s-web' } }, aa(['k8s-web']))).toBe('k8s-web');
    expect(profile({ apparmor: { profileType: T.Localhost, localhostRef: 'localhost/k8s-web' } }, aa(['k8s-web']))).toBe('k8s-web');
    expect(profile({ apparmorProfile: 'localhost/k8s-web' }, aa(['k8s-web']))).toBe('k8s-web');
    expect(() => profile({ apparmor: { profileType: T.Localhost, localhostRef: 'k8s-db' } }, aa(['k8s-web']))).toThrow(
      new FailedPreconditionError('AppArmor profile "k8s-db" is not loaded on this node (load it with apparmor_parser)'),
    );
  });

  it('without AppArmor in the kernel: RuntimeDefault applies nothing, Localhost is refused naming the reason', () => {
    const off = aa([], false);
    expect(profile({ apparmor: { profileType: T.RuntimeDefault } }, off)).toBeUndefined();
    expect(profile({}, off)).toBeUndefined();
    expect(profile({}, undefined)).toBeUndefined();
    expect(() => profile({ apparmor: { profileType: T.Localhost, localhostRef: 'k8s-web' } }, off)).toThrow(
      new FailedPreconditionError('AppArmor profile "k8s-web" requested, but AppArmor is not enabled in this node\'s kernel (no module)'),
    );
  });

  it('refuses malformed requests as InvalidArgument', () => {
    expect(() => profile({ apparmor: { profileType: T.Localhost, localhostRef: '' } }, aa([]))).toThrow(InvalidArgumentError);
    expect(() => profile({ apparmorProfile: 'docker-default' }, aa([]))).toThrow(/not runtime\/default, unconfined or localhost\/<name>/);
  });
});
