// Bus credentials: one nkey per bus user, its seed in `<dir>/<user>.nk`
// (mode 0600, owned by the account that runs the user's process), its public
// key in the nats-server config. The nkeys code is the one nats.js ships
// (nkeys.js, re-exported as `nkeys`), so no second copy of it is installed.
// Older crius wrote `<user>.json` with a password; those files are replaced.
import { chmod, chown, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { nkeys } from 'nats';
import { writeFileAtomic } from '../fs/atomic.js';
import type { BusUser } from './subjects.js';

interface KeyPair {
  getPublicKey(): string;
  getSeed(): Uint8Array;
}
// nats.js types its re-export as any; these are the two calls crius makes.
const nk = nkeys as { createUser(): KeyPair; fromSeed(seed: Uint8Array): KeyPair };

export interface BusCredential {
  user: BusUser;
  /** The nkey seed ("SU…"): the secret. */
  seed: string;
  /** Its public key ("U…"): what nats-server.conf holds. */
  publicKey: string;
}

export function credentialFile(dir: string, user: BusUser): string {
  return path.join(dir, `${user}.nk`);
}

/** Where crius before nkeys kept a user's password. */
export function legacyCredentialFile(dir: string, user: BusUser): string {
  return path.join(dir, `${user}.json`);
}

export function newCredential(user: BusUser): BusCredential {
  const kp = nk.createUser();
  return { user, seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** The credential a seed file's text holds, or undefined when it is not a user seed. */
export function parseCredential(user: BusUser, text: string): BusCredential | undefined {
  const seed = text.trim();
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) return undefined;
  try {
    return { user, seed, publicKey: nk.fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
  } catch {
    return undefined; // a bad checksum
  }
}

export async function readCredential(dir: string, user: BusUser): Promise<BusCredential> {
  const file = credentialFile(dir, user);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' (run `crius up`, or `crius install` for the installed units, to create it)' : '';
    throw new Error(`bus credential of ${user}: cannot read ${file}: ${code ?? (err as Error).message}${hint}`, { cause: err });
  }
  const cred = parseCredential(user, text);
  if (!cred) throw new Error(`bus credential file ${file} does not hold an nkey user seed`);
  return cred;
}

export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * Writes a seed file atomically with mode 0600 (root's until chowned to
 * `owner`: never readable by anyone else meanwhile); removes the user's
 * legacy password file.
 */
export async function writeCredential(dir: string, cred: BusCredential, owner?: FileOwner): Promise<void> {
  const file = credentialFile(dir, cred.user);
  await writeFileAtomic(file, cred.seed + '\n', 0o600);
  await setCredentialOwner(dir, cred.user, owner);
  await rm(legacyCredentialFile(dir, cred.user), { force: true });
}

/** Mode 0600 and the owner on an existing seed file (a reinstall fixes what was changed by hand). */
export async function setCredentialOwner(dir: string, user: BusUser, owner?: FileOwner): Promise<void> {
  const file = credentialFile(dir, user);
  if (owner) await chown(file, owner.uid, owner.gid);
  await chmod(file, 0o600);
}
