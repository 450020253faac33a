// Resolves the container process user (uid, gid, additional gids) from the CRI
// security context and the image's User, against the image's /etc/passwd and
// /etc/group. Owned by runtime-svc/spec; pure, the caller reads the files.
import { InvalidArgumentError } from '@crius/common';
import type { OciUser } from './oci-types.js';
import { parseGroup, parseId, parsePasswd, type GroupEntry, type PasswdEntry } from './image-config.js';

export interface UserRequest {
  runAsUser?: bigint;
  runAsGroup?: bigint;
  runAsUsername?: string;
  supplementalGroups?: bigint[];
  /** SupplementalGroupsPolicy Strict: ignore /etc/group memberships. */
  strictGroups?: boolean;
  /** The image config's User string. */
  imageUser: string;
}

export interface UserDb {
  passwd?: string;
  group?: string;
}

function idFromBigint(v: bigint, what: string): number {
  if (v < 0n || v > 0xffffffffn) {
    throw new InvalidArgumentError(`${what} ${v} is out of range (0..4294967295)`);
  }
  return Number(v);
}

/** Split "user[:group]" into its parts (the group part may be absent). */
function splitUserString(s: string): { user: string; group?: string } {
  const i = s.indexOf(':');
  return i < 0 ? { user: s } : { user: s.slice(0, i), group: s.slice(i + 1) };
}

interface Who {
  uid: number;
  gid: number;
  name?: string;
}

function lookupUser(spec: string, users: PasswdEntry[]): Who {
  // An empty user means the image default, root.
  if (spec === '') return { uid: 0, gid: 0, name: users.find((u) => u.uid === 0)?.name };
  const uid = parseId(spec);
  if (uid !== undefined) {
    // A numeric uid need not exist in the image; its group is then root.
    const entry = users.find((u) => u.uid === uid);
    return { uid, gid: entry?.gid ?? 0, name: entry?.name };
  }
  const entry = users.find((u) => u.name === spec);
  if (!entry) {
    throw new InvalidArgumentError(`user "${spec}" not found in the image's /etc/passwd`);
  }
  return { uid: entry.uid, gid: entry.gid, name: entry.name };
}

function lookupGroup(spec: string, groups: GroupEntry[]): number {
  const gid = parseId(spec);
  if (gid !== undefined) return gid;
  const entry = groups.find((g) => g.name === spec);
  if (!entry) {
    throw new InvalidArgumentError(`group "${spec}" not found in the image's /etc/group`);
  }
  return entry.gid;
}

/**
 * CRI precedence (as containerd and CRI-O apply it): run_as_user, else
 * run_as_username, else the image's User; run_as_group replaces the group,
 * and may only come with run_as_user or run_as_username (api.proto; both
 * anchors refuse it alone, even when the image names a user).
 */
export function resolveUser(req: UserRequest, db: UserDb): OciUser {
  if (req.runAsGroup !== undefined && req.runAsUser === undefined && !req.runAsUsername) {
    throw new InvalidArgumentError(`run_as_group ${req.runAsGroup} is set without run_as_user or run_as_username`);
  }
  const users = parsePasswd(db.passwd);
  const groups = parseGroup(db.group);

  let userSpec: string;
  let groupSpec: string | undefined;
  if (req.runAsUser !== undefined) {
    userSpec = String(idFromBigint(req.runAsUser, 'run_as_user'));
  } else if (req.runAsUsername) {
    userSpec = req.runAsUsername;
  } else {
    ({ user: userSpec, group: groupSpec } = splitUserString(req.imageUser.trim()));
  }

  const who = lookupUser(userSpec, users);
  let gid = who.gid;
  if (req.runAsGroup !== undefined) gid = idFromBigint(req.runAsGroup, 'run_as_group');
  else if (groupSpec !== undefined && groupSpec !== '') gid = lookupGroup(groupSpec, groups);

  // The primary gid leads the list so setgroups() keeps it, as containerd does.
  const extra: number[] = [gid];
  if (!req.strictGroups && who.name !== undefined) {
    for (const g of groups) if (g.members.includes(who.name)) extra.push(g.gid);
  }
  for (const g of req.supplementalGroups ?? []) extra.push(idFromBigint(g, 'supplemental group'));

  return { uid: who.uid, gid, additionalGids: [...new Set(extra)] };
}
