// The image side of a container spec: the OCI image config fields that shape
// the process, plus the image's /etc/passwd and /etc/group text (read from the
// rootfs by the caller) for user resolution. Owned by runtime-svc/spec.

/** What spec generation needs from the image config (OCI image-spec `config`). */
export interface ImageConfig {
  /** `User`: "", "name", "uid", "name:group", "uid:gid" (mixes allowed). */
  user: string;
  /** `Env`: "KEY=value" entries. */
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  stopSignal?: string;
  labels: Record<string, string>;
}

/** The image config with the user databases found in the rootfs. */
export interface ImageInput {
  config: ImageConfig;
  /** Contents of <rootfs>/etc/passwd; undefined when the file is absent. */
  passwd?: string;
  /** Contents of <rootfs>/etc/group; undefined when the file is absent. */
  group?: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** A decimal id as found in passwd/group/User strings, or undefined. */
export function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

function dataLines(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/** Parse /etc/passwd; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of dataLines(text)) {
    if (f.length < 4) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (f[0] === '' || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

/** Parse /etc/group; malformed lines are skipped. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of dataLines(text)) {
    if (f.length < 3) continue;
    const gid = parseId(f[2]!);
    if (f[0] === '' || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0]!, gid, members });
  }
  return out;
}
