// Applying resolved CDI containerEdits to a generated OCI spec, as the CDI
// reference library does: env appended (a later NAME replaces an earlier
// one), device nodes replacing any at the same path with a device-cgroup
// allow rule (default "rwm", "none" = no access), owned by the process's
// uid/gid unless the spec says; mounts replacing any at the same
// destination, parents before children; hooks by name; extra GIDs.
// Owned by runtime-svc/spec; pure: the host's device nodes are stat'ed by
// the injected function.
import { InvalidArgumentError } from '@crius/common';
import type { CdiEdits } from './cdi.js';
import type { OciHook, OciLinuxDevice, OciSpec } from './oci-types.js';
import { sortMounts, validateContainerPath } from './mounts.js';

export interface CdiDeviceStat {
  type: 'b' | 'c' | 'p';
  major: number;
  minor: number;
  /** Permission bits. */
  fileMode: number;
}

/** lstat of a host device node (CDI does not follow symlinks); throws when missing or not a device. */
export type StatCdiDevice = (hostPath: string) => CdiDeviceStat;

function envKey(e: string): string {
  return e.slice(0, e.indexOf('='));
}

function device(n: NonNullable<CdiEdits['deviceNodes']>[number], spec: OciSpec, stat: StatCdiDevice): OciLinuxDevice {
  const hostPath = n.hostPath ?? n.path;
  let type = n.type === 'u' ? 'c' : n.type;
  let major = n.major ?? 0;
  let minor = n.minor ?? 0;
  let fileMode = n.fileMode;
  if (!type || (major === 0 && type !== 'p')) {
    let st: CdiDeviceStat;
    try {
      st = stat(hostPath);
    } catch (err) {
      throw new InvalidArgumentError(`CDI device node ${n.path}: cannot use host device ${hostPath}: ${(err as Error).message}`, { cause: err });
    }
    if (type && type !== st.type) throw new InvalidArgumentError(`CDI device node ${n.path}: type "${type}" but host device ${hostPath} is "${st.type}"`);
    type = st.type;
    if (major === 0 && type !== 'p') [major, minor] = [st.major, st.minor];
    fileMode ??= st.fileMode;
  }
  const dev: OciLinuxDevice = { path: validateContainerPath(n.path), type: type as OciLinuxDevice['type'], major, minor };
  if (fileMode !== undefined) dev.fileMode = fileMode & 0o7777;
  const uid = n.uid ?? (spec.process.user.uid > 0 ? spec.process.user.uid : undefined);
  const gid = n.gid ?? (spec.process.user.gid > 0 ? spec.process.user.gid : undefined);
  if (uid !== undefined) dev.uid = uid;
  if (gid !== undefined) dev.gid = gid;
  return dev;
}

export function applyCdiEdits(spec: OciSpec, all: CdiEdits[], stat: StatCdiDevice): void {
  for (const e of all) {
    for (const entry of e.env ?? []) {
      const env = spec.process.env;
      const i = env.findIndex((x) => envKey(x) === envKey(entry));
      if (i >= 0) env[i] = entry;
      else env.push(entry);
    }
    for (const n of e.deviceNodes ?? []) {
      const dev = device(n, spec, stat);
      spec.linux.devices = [...(spec.linux.devices ?? []).filter((d) => d.path !== dev.path), dev];
      if (dev.type === 'b' || dev.type === 'c') {
        const access = n.permissions === undefined ? 'rwm' : n.permissions === 'none' ? '' : n.permissions;
        const res = (spec.linux.resources ??= {});
        (res.devices ??= []).push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access });
      }
    }
    for (const m of e.mounts ?? []) {
      const destination = validateContainerPath(m.containerPath);
      spec.mounts = spec.mounts.filter((x) => x.destination !== destination);
      spec.mounts.push({ destination, source: m.hostPath, ...(m.type ? { type: m.type } : {}), ...(m.options ? { options: [...m.options] } : {}) });
    }
    if (e.mounts?.length) spec.mounts = sortMounts(spec.mounts);
    for (const h of e.hooks ?? []) {
      const hook: OciHook = { path: h.path };
      if (h.args) hook.args = [...h.args];
      if (h.env) hook.env = [...h.env];
      if (h.timeout !== undefined) hook.timeout = h.timeout;
      const hooks = (spec.hooks ??= {});
      (hooks[h.hookName as keyof NonNullable<OciSpec['hooks']>] ??= []).push(hook);
    }
    for (const gid of e.additionalGids ?? []) {
      if (gid === 0) continue;
      const gids = (spec.process.user.additionalGids ??= []);
      if (!gids.includes(gid)) gids.push(gid);
    }
  }
}
