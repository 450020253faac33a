import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError } from '@crius/common';
import {
  ContainerConfig,
  type DeepPartial,
  LinuxSandboxSecurityContext,
  NamespaceMode,
  SecurityProfile_ProfileType as T,
  Signal,
} from '@crius/common/cri';
import { generateContainerSpec, type ContainerSpecInput, type SandboxInfo } from './generate.js';
import { generateSandboxPauseSpec } from './pause-spec.js';
import { DEFAULT_CAPABILITIES } from './capabilities.js';

const sandbox: SandboxInfo = {
  id: 'sb1',
  hostname: 'web-0',
  hostNetwork: false,
  hostIpc: false,
  hostPid: false,
  netnsPath: '/run/crius/netns/sb1',
  ipcPath: '/run/crius/ns/sb1/ipc',
  utsPath: '/run/crius/ns/sb1/uts',
  pidPath: '/proc/4242/ns/pid',
  shmPath: '/run/crius/sb1/shm',
  hostsPath: '/var/lib/crius/sb1/hosts',
  resolvPath: '/var/lib/crius/sb1/resolv.conf',
  hostnamePath: '/var/lib/crius/sb1/hostname',
  cgroupParent: '/kubepods/besteffort/pod-uid',
  sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
};

function input(config: DeepPartial<ContainerConfig>, extra: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    containerId: 'c1',
    sandbox,
    config: ContainerConfig.fromPartial(config),
    image: {
      config: { user: '', env: ['IMG=1'], entrypoint: ['/bin/sh'], cmd: ['-c', 'true'], workingDir: '', labels: {} },
      passwd: 'root:x:0:0::/root:/bin/sh\n',
      group: 'root:x:0:\n',
    },
    imageName: 'docker.io/library/busybox:1.36',
    rootfsPath: '/var/lib/crius/storage/c1/rootfs',
    host: { cgroupVersion: 1, cgroupManager: 'cgroupfs', minOomScoreAdj: 0, arch: 'x64', defaultPidsLimit: 4096 },
    ...extra,
  };
}

describe('generateContainerSpec', () => {
  it('composes an unprivileged pod container', () => {
    const { spec, warnings } = generateContainerSpec(
      input({
        metadata: { name: 'app' },
        image: { image: 'sha256:abc' },
        linux: {
          resources: { memoryLimitInBytes: 1000n, oomScoreAdj: -5n },
          securityContext: {
            readonlyRootfs: true,
            seccomp: { profileType: T.RuntimeDefault },
            namespaceOptions: { pid: NamespaceMode.POD },
          },
        },
      }),
    );
    expect(spec.process.args).toEqual(['/bin/sh', '-c', 'true']);
    expect(spec.process.env).toContain('HOSTNAME=web-0');
    expect(spec.process.oomScoreAdj).toBe(0);
    expect(warnings.some((w) => w.includes('oom_score_adj -5'))).toBe(true);
    expect(spec.root).toEqual({ path: '/var/lib/crius/storage/c1/rootfs', readonly: true });
    expect(spec.hostname).toBeUndefined(); // the pod's UTS namespace already has it
    expect(spec.linux.namespaces).toContainEqual({ type: 'pid', path: '/proc/4242/ns/pid' });
    expect(spec.linux.cgroupsPath).toBe('/kubepods/besteffort/pod-uid/c1');
    expect(spec.linux.resources).toMatchObject({ memory: { limit: 1000, swap: 1000 }, pids: { limit: 4096 }, devices: [{ allow: false, access: 'rwm' }] });
    expect(spec.linux.sysctl).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0' });
    expect(spec.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.mounts.find((m) => m.destination === '/etc/hosts')?.options).toContain('ro');
    expect(spec.mounts.find((m) => m.destination === '/dev/shm')?.source).toBe('/run/crius/sb1/shm');
    expect(spec.linux.mountLabel).toBeUndefined();
    expect(spec.annotations).toEqual({
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': 'sb1',
      'io.kubernetes.cri.container-name': 'app',
      'io.kubernetes.cri.image-name': 'docker.io/library/busybox:1.36',
    });
    expect(() => JSON.stringify(spec)).not.toThrow(); // no bigint left anywhere
  });

  it('gives a privileged container everything and no confinement', () => {
    const { spec } = generateContainerSpec(
      input(
        { linux: { securityContext: { privileged: true, seccomp: { profileType: T.RuntimeDefault }, namespaceOptions: { pid: NamespaceMode.POD } } } },
        {
          sandbox: { ...sandbox, cgroupParent: 'kubepods-pod1.slice' },
          host: { cgroupVersion: 2, cgroupManager: 'systemd', capLastCap: 40, hostDevices: [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }] },
        },
      ),
    );
    expect(spec.process.capabilities?.bounding).toHaveLength(41);
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.linux.readonlyPaths).toEqual([]);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).not.toContain('ro');
    expect(spec.linux.devices).toEqual([{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }]);
    expect(spec.linux.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(spec.linux.namespaces).toContainEqual({ type: 'cgroup' });
    expect(spec.linux.cgroupsPath).toBe('kubepods-pod1.slice:crius:c1');
  });

  it('sets the hostname only for a UTS namespace runc creates', () => {
    const own = { ...sandbox, utsPath: undefined };
    const { spec } = generateContainerSpec(input({ linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } }, { sandbox: own }));
    expect(spec.linux.namespaces).toContainEqual({ type: 'uts' });
    expect(spec.hostname).toBe('web-0');
  });

  it('passes SELinux labels when enabled; a Localhost AppArmor profile without AppArmor is refused, not ignored', () => {
    const { spec } = generateContainerSpec(
      input({ linux: { securityContext: { selinuxOptions: { level: 's0:c5,c6' } } } }, { host: { cgroupVersion: 1, cgroupManager: 'cgroupfs', selinuxEnabled: true } }),
    );
    expect(spec.process.selinuxLabel).toBe('system_u:system_r:container_t:s0:c5,c6');
    expect(spec.linux.mountLabel).toBe('system_u:object_r:container_file_t:s0:c5,c6');
    const localhost = input({ linux: { securityContext: { apparmor: { profileType: T.Localhost, localhostRef: 'p' } } } });
    expect(() => generateContainerSpec(localhost)).toThrow(FailedPreconditionError);
  });

  it('puts the labels, annotations and io.kubernetes.cri.* keys in the spec annotations, ours winning', () => {
    const { spec } = generateContainerSpec(
      input(
        {
          metadata: { name: 'app' },
          labels: { tier: 'web', shared: 'from-label', 'io.kubernetes.cri.container-type': 'spoofed' },
          annotations: { 'hook.example/enable': 'true', shared: 'from-annotation', 'io.kubernetes.cri.sandbox-id': 'spoofed' },
        },
        { sandbox: { ...sandbox, metadata: { name: 'web-0', namespace: 'shop', uid: 'uid-1' } } },
      ),
    );
    expect(spec.annotations).toEqual({
      tier: 'web',
      shared: 'from-label',
      'hook.example/enable': 'true',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': 'sb1',
      'io.kubernetes.cri.sandbox-name': 'web-0',
      'io.kubernetes.cri.sandbox-namespace': 'shop',
      'io.kubernetes.cri.sandbox-uid': 'uid-1',
      'io.kubernetes.cri.container-name': 'app',
      'io.kubernetes.cri.image-name': 'docker.io/library/busybox:1.36',
    });
  });

  it('picks the stop signal: stop_signal, else the image STOPSIGNAL, else SIGTERM', () => {
    const withImageSignal = (stopSignal: string | undefined): Partial<ContainerSpecInput> => ({
      image: { config: { user: '', env: [], entrypoint: ['sh'], cmd: [], workingDir: '', labels: {}, stopSignal } },
    });
    expect(generateContainerSpec(input({ stopSignal: Signal.SIGINT }, withImageSignal('SIGUSR1'))).stopSignal).toBe(Signal.SIGINT);
    expect(generateContainerSpec(input({}, withImageSignal('SIGUSR1'))).stopSignal).toBe(Signal.SIGUSR1);
    expect(generateContainerSpec(input({}, withImageSignal(''))).stopSignal).toBe(Signal.SIGTERM);
    expect(() => generateContainerSpec(input({}, withImageSignal('SIGBOGUS')))).toThrow(/image STOPSIGNAL "SIGBOGUS"/);
  });

  it('refuses a pod sysctl that is not namespaced', () => {
    const bad = { ...sandbox, sysctls: { 'vm.overcommit_memory': '1' } };
    expect(() => generateContainerSpec(input({}, { sandbox: bad }))).toThrow(InvalidArgumentError);
  });
});

describe('generateSandboxPauseSpec', () => {
  it('runs catatonit -P in a new PID namespace inside the pod namespaces', () => {
    const { spec, warnings } = generateSandboxPauseSpec({
      sandbox,
      securityContext: LinuxSandboxSecurityContext.fromPartial({ seccomp: { profileType: T.RuntimeDefault }, runAsUser: { value: 65535n } }),
      rootfsPath: '/run/crius/sb1/pause-root',
      host: { cgroupVersion: 1, cgroupManager: 'cgroupfs', minOomScoreAdj: 0, arch: 'x64' },
    });
    expect(spec.process.args).toEqual(['/catatonit', '-P']);
    expect(spec.process.user).toMatchObject({ uid: 65535, gid: 0 });
    expect(spec.process.capabilities?.bounding).toEqual([]);
    expect(spec.process.oomScoreAdj).toBe(0);
    expect(warnings[0]).toMatch(/-998/);
    expect(spec.root).toEqual({ path: '/run/crius/sb1/pause-root', readonly: true });
    expect(spec.linux.namespaces).toEqual([
      { type: 'mount' },
      { type: 'network', path: '/run/crius/netns/sb1' },
      { type: 'uts', path: '/run/crius/ns/sb1/uts' },
      { type: 'ipc', path: '/run/crius/ns/sb1/ipc' },
      { type: 'pid' },
    ]);
    expect(spec.linux.cgroupsPath).toBe('/kubepods/besteffort/pod-uid/sb1');
    expect(spec.linux.seccomp?.syscalls?.some((s) => s.names.includes('unshare'))).toBe(false);
    expect(spec.annotations?.['io.kubernetes.cri.container-type']).toBe('sandbox');
  });

  it('keeps the requested OOM score when allowed', () => {
    const { spec, warnings } = generateSandboxPauseSpec({
      sandbox: { ...sandbox, hostNetwork: true, hostIpc: true, sysctls: {} },
      rootfsPath: '/r',
      host: { cgroupVersion: 1, cgroupManager: 'cgroupfs', minOomScoreAdj: -1000 },
    });
    expect(spec.process.oomScoreAdj).toBe(-998);
    expect(warnings).toEqual([]);
    expect(spec.linux.namespaces).toEqual([{ type: 'mount' }, { type: 'pid' }]);
  });
});

describe('default capability set', () => {
  it('is the nine CRI-O capabilities', () => {
    expect(DEFAULT_CAPABILITIES).toHaveLength(9);
  });
});
