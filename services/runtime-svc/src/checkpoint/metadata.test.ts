import { describe, expect, it } from 'vitest';
import { ContainerConfig } from '@crius/common/cri';
import { InvalidArgumentError } from '@crius/common';
import { GO_ZERO_TIME, buildConfigDump, nsToRfc3339, parseConfigDump, parseSpecDump, restoredContainerConfig, rootfsImageCandidates } from './metadata.js';
import type { OciSpec } from '../spec/oci-types.js';

describe('config.dump', () => {
  it('has checkpointctl lib.ContainerConfig fields, times in RFC 3339 with nanoseconds', () => {
    const d = buildConfigDump({
      id: 'abc',
      name: 'k8s_counter_pod_ns_uid_0',
      image: 'registry.local/busybox:1',
      imageId: 'sha256:1111',
      imageRef: 'registry.local/busybox@sha256:2222',
      runtimeHandler: 'runc',
      createdAtNs: '1700000000123456789',
      checkpointedAt: new Date('2026-01-02T03:04:05.678Z'),
      restored: false,
    });
    expect(d).toEqual({
      id: 'abc',
      name: 'k8s_counter_pod_ns_uid_0',
      rootfsImage: 'registry.local/busybox:1',
      rootfsImageRef: 'sha256:1111',
      rootfsImageName: 'registry.local/busybox@sha256:2222',
      runtime: 'runc',
      createdTime: '2023-11-14T22:13:20.123456789Z',
      checkpointedTime: '2026-01-02T03:04:05.678Z',
      restoredTime: GO_ZERO_TIME,
      restored: false,
    });
    expect(nsToRfc3339('0')).toBe(GO_ZERO_TIME);
  });

  it('is parsed back, and a dump without id or image is INVALID_ARGUMENT naming what is missing', () => {
    expect(parseConfigDump('{"id":"a","name":"n","rootfsImageName":"img"}', 'x').id).toBe('a');
    expect(() => parseConfigDump('nope', 'archive A')).toThrow(/archive A: config.dump is not JSON/);
    expect(() => parseConfigDump('{"name":"n"}', 'x')).toThrow(/no container id and name/);
    expect(() => parseConfigDump('{"id":"a","name":"n"}', 'x')).toThrow(InvalidArgumentError);
  });

  it('offers the image by ID first, then by names', () => {
    expect(rootfsImageCandidates({ id: 'a', name: 'n', rootfsImage: 'b:1', rootfsImageRef: 'sha256:1', rootfsImageName: 'b@sha256:2', createdTime: '', checkpointedTime: '', restoredTime: '', restored: false })).toEqual([
      'sha256:1',
      'b@sha256:2',
      'b:1',
    ]);
  });
});

const spec = (mounts: { destination: string }[] = []): OciSpec =>
  ({ ociVersion: '1.0.2', process: { user: { uid: 0, gid: 0 }, args: ['sh', '-c', 'loop'], env: ['PATH=/bin', 'A=b=c', 'junk'], cwd: '/work' }, root: { path: '/r' }, mounts, linux: {} }) as unknown as OciSpec;

describe('spec.dump', () => {
  it('must be an OCI spec', () => {
    expect(parseSpecDump(JSON.stringify(spec()), 'x').process.cwd).toBe('/work');
    expect(() => parseSpecDump('{"process":{}}', 'archive A')).toThrow(/archive A: spec.dump is not an OCI runtime spec/);
  });
});

describe('the restored container config', () => {
  const req = ContainerConfig.fromPartial({ metadata: { name: 'c', attempt: 2 }, image: { image: '/var/lib/kubelet/ck.tar' }, labels: { a: 'b' }, logPath: 'c/2.log' });

  it('is the request on the checkpoint image, with the checkpoint process where the request gives none', () => {
    const cfg = restoredContainerConfig(req, spec(), 'registry.local/busybox:1', 'x');
    expect(cfg.image?.image).toBe('registry.local/busybox:1');
    expect(cfg.metadata).toEqual({ name: 'c', attempt: 2 });
    expect(cfg.labels).toEqual({ a: 'b' });
    expect(cfg.logPath).toBe('c/2.log');
    expect(cfg.command).toEqual(['sh', '-c', 'loop']);
    expect(cfg.workingDir).toBe('/work');
    expect(cfg.envs).toEqual([{ key: 'PATH', value: '/bin' }, { key: 'A', value: 'b=c' }]);
  });

  it('needs every mount the checkpoint had, except those the runtime or the pod makes', () => {
    const dumped = spec([{ destination: '/proc' }, { destination: '/etc/hosts' }, { destination: '/data' }, { destination: '/cfg' }]);
    expect(() => restoredContainerConfig(req, dumped, 'img', 'restore X')).toThrow(/restore X: restoring needs these mounts in the container config: \/data, \/cfg/);
    const withMounts = ContainerConfig.fromPartial({ ...req, mounts: [{ containerPath: '/data', hostPath: '/srv/d' }, { containerPath: '/cfg', hostPath: '/srv/c' }] });
    expect(restoredContainerConfig(withMounts, dumped, 'img', 'x').mounts.map((m) => m.hostPath)).toEqual(['/srv/d', '/srv/c']);
  });
});
