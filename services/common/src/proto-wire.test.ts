// Wire checks of the generated CRI types against field numbers fixed by
// upstream k8s.io/cri-api: bytes are built by hand here (tag = field << 3 |
// wire type), decoded with our types, and our encoding is checked to give
// the same tags back. A renumbered field in proto/ fails this test.
import { describe, expect, it } from 'vitest';
import { ContainerConfig, LinuxContainerSecurityContext, PodSandboxConfig } from './gen/cri/runtime/v1/api.js';
import { ImageServiceService, RuntimeServiceService } from './cri-grpc.js';

const enc = new TextEncoder();

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const vField = (field: number, n: number | bigint) => [...tag(field, 0), ...varint(n)];
const lField = (field: number, bytes: number[] | Uint8Array) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const sField = (field: number, s: string) => lField(field, enc.encode(s));

/** The field numbers present at the top level of an encoded message. */
function topLevelFields(buf: Uint8Array): number[] {
  const fields: number[] = [];
  let i = 0;
  const readVarint = () => {
    let shift = 0n;
    let v = 0n;
    for (;;) {
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    fields.push(key >> 3);
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 2) {
      const len = Number(readVarint()); // read before adding: `i +=` would use the old i
      i += len;
    }
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

describe('CRI wire compatibility', () => {
  it('ContainerConfig field numbers', () => {
    const bytes = new Uint8Array([
      ...lField(1, [...sField(1, 'app'), ...vField(2, 3)]), // metadata{name, attempt}
      ...lField(2, sField(1, 'busybox:1.36')), // image{image}
      ...sField(3, '/bin/sh'), // command
      ...sField(4, '-c'), // args
      ...sField(5, '/work'), // working_dir
      ...lField(6, [...sField(1, 'A'), ...sField(2, 'b')]), // envs
      ...lField(9, [...sField(1, 'tier'), ...sField(2, 'web')]), // labels map entry
      ...sField(11, 'app/0.log'), // log_path
      ...vField(12, 1), // stdin
      ...vField(13, 1), // stdin_once
      ...vField(14, 1), // tty
      ...lField(17, sField(1, 'vendor.com/gpu=0')), // CDI_devices
      ...vField(18, 15), // stop_signal = SIGTERM
    ]);
    const c = ContainerConfig.decode(bytes);
    expect(c.metadata).toEqual({ name: 'app', attempt: 3 });
    expect(c.image?.image).toBe('busybox:1.36');
    expect(c.command).toEqual(['/bin/sh']);
    expect(c.args).toEqual(['-c']);
    expect(c.workingDir).toBe('/work');
    expect(c.envs).toEqual([{ key: 'A', value: 'b' }]);
    expect(c.labels).toEqual({ tier: 'web' });
    expect(c.logPath).toBe('app/0.log');
    expect([c.stdin, c.stdinOnce, c.tty]).toEqual([true, true, true]);
    expect(c.CDIDevices).toEqual([{ name: 'vendor.com/gpu=0' }]);
    expect(c.stopSignal).toBe(15);
    expect(topLevelFields(ContainerConfig.encode(c).finish())).toEqual([1, 2, 3, 4, 5, 6, 9, 11, 12, 13, 14, 17, 18]);
  });

  it('LinuxContainerSecurityContext field numbers (non-sequential ones included)', () => {
    const bytes = new Uint8Array([
      ...lField(1, [...sField(1, 'NET_ADMIN'), ...sField(2, 'MKNOD')]), // capabilities{add_capabilities, drop_capabilities}
      ...vField(2, 1), // privileged
      ...lField(3, [...vField(1, 2), ...vField(2, 1)]), // namespace_options{network=NODE, pid=CONTAINER}
      ...lField(5, vField(1, 1000)), // run_as_user{value}
      ...sField(6, 'nobody'), // run_as_username
      ...vField(7, 1), // readonly_rootfs
      ...lField(8, [...varint(5), ...varint(6)]), // supplemental_groups packed
      ...vField(11, 1), // no_new_privs
      ...lField(12, vField(1, 2000)), // run_as_group{value}
      ...sField(13, '/proc/kcore'), // masked_paths
      ...sField(14, '/proc/sys'), // readonly_paths
      ...lField(15, [...vField(1, 0)]), // seccomp{profile_type=RuntimeDefault}
      ...vField(17, 1), // supplemental_groups_policy=Strict
    ]);
    const s = LinuxContainerSecurityContext.decode(bytes);
    expect(s.capabilities).toMatchObject({ addCapabilities: ['NET_ADMIN'], dropCapabilities: ['MKNOD'] });
    expect(s.privileged).toBe(true);
    expect(s.namespaceOptions).toMatchObject({ network: 2, pid: 1 });
    expect(s.runAsUser).toEqual({ value: 1000n });
    expect(s.runAsUsername).toBe('nobody');
    expect(s.readonlyRootfs).toBe(true);
    expect(s.supplementalGroups).toEqual([5n, 6n]);
    expect(s.noNewPrivs).toBe(true);
    expect(s.runAsGroup).toEqual({ value: 2000n });
    expect(s.maskedPaths).toEqual(['/proc/kcore']);
    expect(s.readonlyPaths).toEqual(['/proc/sys']);
    expect(s.seccomp?.profileType).toBe(0);
    expect(s.supplementalGroupsPolicy).toBe(1);
    // Encoding follows upstream's declaration order (run_as_group sits after run_as_user), so compare as a set.
    expect(topLevelFields(LinuxContainerSecurityContext.encode(s).finish()).sort((a, b) => a - b)).toEqual([1, 2, 3, 5, 6, 7, 8, 11, 12, 13, 14, 15, 17]);
  });

  it('PodSandboxConfig field numbers and int64 precision', () => {
    const bytes = new Uint8Array([
      ...lField(1, [...sField(1, 'web'), ...sField(2, 'uid-1'), ...sField(3, 'default'), ...vField(4, 1)]),
      ...sField(2, 'web-0'),
      ...sField(3, '/var/log/pods/x'),
      ...lField(4, [...sField(1, '10.0.0.10'), ...sField(2, 'svc.cluster.local'), ...sField(3, 'ndots:5')]),
      ...lField(5, [...vField(1, 0), ...vField(2, 80), ...vField(3, 8080), ...sField(4, '127.0.0.1')]),
    ]);
    const p = PodSandboxConfig.decode(bytes);
    expect(p.metadata).toEqual({ name: 'web', uid: 'uid-1', namespace: 'default', attempt: 1 });
    expect(p.hostname).toBe('web-0');
    expect(p.logDirectory).toBe('/var/log/pods/x');
    expect(p.dnsConfig).toEqual({ servers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: ['ndots:5'] });
    expect(p.portMappings).toEqual([{ protocol: 0, containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }]);
  });

  it('the services have the upstream method counts and paths', () => {
    // 35 from kubernetes/kubernetes plus KEP-5823's CheckpointPod and RestorePod.
    expect(Object.keys(RuntimeServiceService)).toHaveLength(37);
    expect(Object.keys(ImageServiceService)).toHaveLength(6);
    expect(RuntimeServiceService.getContainerEvents.path).toBe('/runtime.v1.RuntimeService/GetContainerEvents');
    expect(RuntimeServiceService.getContainerEvents.responseStream).toBe(true);
    expect(ImageServiceService.streamImages.responseStream).toBe(true);
    expect(RuntimeServiceService.checkpointPod.path).toBe('/runtime.v1.RuntimeService/CheckpointPod');
    expect(RuntimeServiceService.restorePod.path).toBe('/runtime.v1.RuntimeService/RestorePod');
  });
});
