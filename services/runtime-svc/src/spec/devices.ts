// CRI devices → OCI linux.devices plus device-cgroup rules; privileged
// containers get every host device. Owned by runtime-svc/spec; the stat of a
// host device is injected (the caller does the fs access).
import { InvalidArgumentError } from '@crius/common';
import type { Device } from '@crius/common/cri';
import type { OciDeviceCgroupRule, OciLinuxDevice } from './oci-types.js';

export interface DeviceStat {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** st_mode; only the permission bits are used. */
  fileMode: number;
  uid: number;
  gid: number;
}

/** Stats a host device node; throws when it is missing or not a device. */
export type StatDevice = (hostPath: string) => DeviceStat;

export interface DevicesInput {
  devices: Device[];
  privileged: boolean;
  /** Every device node on the host (what /dev holds), used when privileged. */
  hostDevices?: OciLinuxDevice[];
  statDevice?: StatDevice;
}

export interface DevicesResult {
  devices: OciLinuxDevice[];
  rules: OciDeviceCgroupRule[];
}

function checkPermissions(p: string, dev: string): string {
  const perms = p === '' ? 'rwm' : p;
  if (!/^[rwm]+$/.test(perms) || new Set(perms).size !== perms.length) {
    throw new InvalidArgumentError(`device ${dev}: invalid permissions "${p}" (want a subset of "rwm")`);
  }
  return perms;
}

function oneDevice(d: Device, stat: StatDevice | undefined): { dev: OciLinuxDevice; rule: OciDeviceCgroupRule } {
  if (!d.containerPath.startsWith('/') || d.containerPath.split('/').includes('..')) {
    throw new InvalidArgumentError(`device container_path "${d.containerPath}" must be absolute without ".."`);
  }
  if (!d.hostPath.startsWith('/')) {
    throw new InvalidArgumentError(`device host_path "${d.hostPath}" is not an absolute path`);
  }
  const access = checkPermissions(d.permissions, d.hostPath);
  if (!stat) throw new InvalidArgumentError(`device ${d.hostPath}: no device stat function`);
  let st: DeviceStat;
  try {
    st = stat(d.hostPath);
  } catch (err) {
    throw new InvalidArgumentError(`device ${d.hostPath}: not a usable device node`, { cause: err });
  }
  const dev: OciLinuxDevice = {
    path: d.containerPath,
    type: st.type,
    major: st.major,
    minor: st.minor,
    fileMode: st.fileMode & 0o7777,
    uid: st.uid,
    gid: st.gid,
  };
  return { dev, rule: { allow: true, type: st.type, major: st.major, minor: st.minor, access } };
}

/**
 * Unprivileged: deny all, then allow each requested device (runc adds its own
 * allow rules for /dev/null, /dev/zero, ptys and friends). Privileged: allow
 * everything and create every host device, plus any remapped CRI device.
 */
export function buildDevices(input: DevicesInput): DevicesResult {
  const requested = input.devices.map((d) => oneDevice(d, input.statDevice));
  if (input.privileged) {
    const byPath = new Map<string, OciLinuxDevice>();
    for (const d of input.hostDevices ?? []) byPath.set(d.path, d);
    for (const r of requested) byPath.set(r.dev.path, r.dev);
    return { devices: [...byPath.values()], rules: [{ allow: true, access: 'rwm' }] };
  }
  return {
    devices: requested.map((r) => r.dev),
    rules: [{ allow: false, access: 'rwm' }, ...requested.map((r) => r.rule)],
  };
}
