// CDI specs from the CDI specification: parsing JSON and YAML, validation,
// directory priority and conflicts, spec- and device-level edits, and the
// edits applied to an OCI spec.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '@crius/common';
import { ContainerConfig } from '@crius/common/cri';
import { buildCdiRegistry, parseCdiSpec, requestedCdiDevices, resolveCdiDevices } from './cdi.js';
import { applyCdiEdits, type CdiDeviceStat } from './cdi-edits.js';
import type { OciSpec } from './oci-types.js';

const gpu = {
  cdiVersion: '0.6.0',
  kind: 'vendor.com/gpu',
  containerEdits: { env: ['VENDOR_LIB=/opt/v'], mounts: [{ hostPath: '/opt/v', containerPath: '/usr/lib/v', options: ['ro', 'rbind'] }] },
  devices: [
    { name: 'gpu0', containerEdits: { env: ['GPU=0'], deviceNodes: [{ path: '/dev/vgpu0', hostPath: '/dev/null' }] } },
    { name: 'gpu1', containerEdits: { env: ['GPU=1'], deviceNodes: [{ path: '/dev/vgpu1', type: 'c', major: 195, minor: 1, permissions: 'rw' }] } },
  ],
};

const yamlSpec = `cdiVersion: "0.5.0"
kind: example.org/fpga
devices:
  - name: f0
    containerEdits:
      env: ["FPGA=0"]
      hooks:
        - hookName: createContainer
          path: /usr/bin/fpga-hook
          args: [fpga-hook, setup]
          timeout: 5
      additionalGIDs: [44, 0]
`;

const file = (path: string, priority: number, spec: unknown) => ({ path, priority, text: typeof spec === 'string' ? spec : JSON.stringify(spec) });

function oci(): OciSpec {
  return {
    ociVersion: '1.0.2',
    process: { user: { uid: 1000, gid: 1000 }, args: ['sh'], env: ['PATH=/bin', 'GPU=old'], cwd: '/' },
    root: { path: '/r' },
    mounts: [{ destination: '/usr/lib/v', type: 'tmpfs', source: 'tmpfs' }, { destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: [], resources: { devices: [{ allow: false, access: 'rwm' }] } },
  };
}

const stat = (p: string): CdiDeviceStat => {
  if (p === '/dev/null') return { type: 'c', major: 1, minor: 3, fileMode: 0o20666 };
  throw new Error('ENOENT');
};

describe('CDI spec parsing', () => {
  it('reads JSON and YAML specs', () => {
    expect(parseCdiSpec(JSON.stringify(gpu), 'gpu.json').devices.map((d) => d.name)).toEqual(['gpu0', 'gpu1']);
    const y = parseCdiSpec(yamlSpec, 'fpga.yaml');
    expect(y.kind).toBe('example.org/fpga');
    expect(y.devices[0]!.containerEdits.hooks).toEqual([{ hookName: 'createContainer', path: '/usr/bin/fpga-hook', args: ['fpga-hook', 'setup'], env: undefined, timeout: 5 }]);
  });

  it('refuses what the CDI specification refuses, saying why', () => {
    const bad = (patch: object, name = 'x.json') => () => parseCdiSpec(JSON.stringify({ ...gpu, ...patch }), name);
    expect(bad({ kind: 'gpu' })).toThrow('kind "gpu" is not "vendor.com/class"');
    expect(bad({ kind: 'vendor.com/gpu/x' })).toThrow(/is not "vendor.com\/class"/);
    expect(bad({ cdiVersion: '9.0.0' })).toThrow('cdiVersion "9.0.0" is not supported');
    expect(bad({ devices: [] })).toThrow('spec.devices must list at least one device');
    expect(bad({ devices: [{ name: 'a', containerEdits: {} }] })).toThrow('device "a" has no containerEdits');
    expect(bad({ devices: [{ name: 'a', containerEdits: { env: ['NOEQUALS'] } }] })).toThrow(/invalid environment variable "NOEQUALS"/);
    expect(bad({ devices: [{ name: 'a', containerEdits: { deviceNodes: [{ path: 'dev/x' }] } }] })).toThrow(/is not an absolute path/);
    expect(bad({ devices: [{ name: 'a', containerEdits: { hooks: [{ hookName: 'later', path: '/h' }] } }] })).toThrow(/hookName "later" is not one of/);
    expect(bad({ devices: [{ name: 'a', containerEdits: { env: ['A=1'] }, extra: 1 }] })).toThrow('devices[0] has an unknown field "extra"');
    expect(bad({ devices: [{ name: 'a', containerEdits: { intelRdt: {} } }] })).toThrow(/intelRdt is not supported/);
    expect(() => parseCdiSpec('{not json', 'x.json')).toThrow(/not valid JSON/);
    expect(() => parseCdiSpec('kind: [unclosed', 'x.yaml')).toThrow(/not valid YAML/);
  });
});

describe('CDI registry', () => {
  it('lets a later directory win, and drops a device two specs of one directory both define', () => {
    const later = { ...gpu, devices: [{ name: 'gpu0', containerEdits: { env: ['GPU=later'] } }] };
    const reg = buildCdiRegistry([file('/etc/cdi/a.json', 0, gpu), file('/var/run/cdi/b.json', 1, later), file('/var/run/cdi/c.json', 1, { ...gpu, devices: [gpu.devices[1]] }), file('/etc/cdi/d.json', 0, { ...gpu, devices: [gpu.devices[1]] })]);
    expect(reg.devices.get('vendor.com/gpu=gpu0')!.edits.env).toEqual(['GPU=later']);
    // gpu1: c.json (priority 1) wins over a.json and d.json (priority 0), so no conflict.
    expect(reg.devices.get('vendor.com/gpu=gpu1')!.path).toBe('/var/run/cdi/c.json');
    const clash = buildCdiRegistry([file('/etc/cdi/a.json', 0, gpu), file('/etc/cdi/b.json', 0, gpu)]);
    expect(clash.devices.has('vendor.com/gpu=gpu0')).toBe(false);
    expect(clash.errors[0]).toMatch(/device vendor.com\/gpu=gpu0 is also defined by \/etc\/cdi\/a.json/);
  });

  it('applies spec-level edits once, then each device\'s; unknown devices are NotFound naming skipped specs', () => {
    const reg = buildCdiRegistry([file('/etc/cdi/gpu.json', 0, gpu), file('/etc/cdi/broken.json', 0, '{')]);
    const edits = resolveCdiDevices(reg, ['vendor.com/gpu=gpu0', 'vendor.com/gpu=gpu1']);
    expect(edits.map((e) => e.env)).toEqual([['VENDOR_LIB=/opt/v'], ['GPU=0'], ['GPU=1']]);
    expect(() => resolveCdiDevices(reg, ['vendor.com/gpu=gpu9'])).toThrow(NotFoundError);
    expect(() => resolveCdiDevices(reg, ['vendor.com/gpu=gpu9'])).toThrow(/unresolvable CDI device vendor.com\/gpu=gpu9: not defined by any CDI spec; specs not used: \/etc\/cdi\/broken.json: not valid JSON/);
    expect(() => resolveCdiDevices(reg, ['gpu0'])).toThrow(InvalidArgumentError);
  });

  it('takes devices from CDI_devices and cdi.k8s.io/ annotations, each once', () => {
    const cfg = ContainerConfig.fromPartial({
      CDIDevices: [{ name: 'vendor.com/gpu=gpu0' }],
      annotations: { 'cdi.k8s.io/dra': 'vendor.com/gpu=gpu1, vendor.com/gpu=gpu0', other: 'vendor.com/gpu=gpu9' },
    });
    expect(requestedCdiDevices(cfg)).toEqual(['vendor.com/gpu=gpu0', 'vendor.com/gpu=gpu1']);
  });
});

describe('CDI edits on the OCI spec', () => {
  it('adds env, device nodes with cgroup rules, mounts in order, hooks and GIDs', () => {
    const spec = oci();
    const reg = buildCdiRegistry([file('/etc/cdi/gpu.json', 0, gpu), file('/etc/cdi/fpga.yaml', 0, yamlSpec)]);
    applyCdiEdits(spec, resolveCdiDevices(reg, ['vendor.com/gpu=gpu0', 'vendor.com/gpu=gpu1', 'example.org/fpga=f0']), stat);
    expect(spec.process.env).toEqual(['PATH=/bin', 'GPU=1', 'VENDOR_LIB=/opt/v', 'FPGA=0']);
    expect(spec.linux.devices).toEqual([
      { path: '/dev/vgpu0', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 1000, gid: 1000 },
      { path: '/dev/vgpu1', type: 'c', major: 195, minor: 1, uid: 1000, gid: 1000 },
    ]);
    expect(spec.linux.resources!.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 195, minor: 1, access: 'rw' },
    ]);
    expect(spec.mounts).toEqual([{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/usr/lib/v', source: '/opt/v', options: ['ro', 'rbind'] }]);
    expect(spec.hooks).toEqual({ createContainer: [{ path: '/usr/bin/fpga-hook', args: ['fpga-hook', 'setup'], timeout: 5 }] });
    expect(spec.process.user.additionalGids).toEqual([44]);
  });

  it('refuses a device node whose host device is missing or of another type', () => {
    const node = (n: object) => () => applyCdiEdits(oci(), [{ deviceNodes: [{ path: '/dev/x', ...n }] }], stat);
    expect(node({ hostPath: '/dev/nonexistent' })).toThrow(/CDI device node \/dev\/x: cannot use host device \/dev\/nonexistent: ENOENT/);
    expect(node({ hostPath: '/dev/null', type: 'b' })).toThrow('CDI device node /dev/x: type "b" but host device /dev/null is "c"');
  });
});
