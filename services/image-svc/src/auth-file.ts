// Global registry credentials from a containers-auth.json(5) / docker config.json
// file (`{"auths": {"<host>[/<namespace>…]": {"auth": base64(user:pass)} | {"identitytoken": …}}}`),
// used for an endpoint when the kubelet sent no credentials for it. Keys are matched
// most specific first (host/ns/repo, host/ns, host); legacy keys with a scheme
// (`https://index.docker.io/v1/`) count by their host only. The file holds
// secrets: one readable by group or others is refused, as containers/image does,
// and no value ever enters a message. Read on each pull that needs it. Owner: image-svc.
import { readFile, stat } from 'node:fs/promises';
import { FailedPreconditionError } from '@crius/common';
import type { AuthConfig } from './auth.js';
import { normaliseServerAddress } from './resolve.js';

export const DEFAULT_AUTH_FILE = '/etc/containers/auth.json';
const AUTH_FILE_LIMIT = 1 << 20;

export class AuthTable {
  constructor(private readonly entries: Map<string, AuthConfig>) {}

  static readonly empty = new AuthTable(new Map());

  /** Credentials for `location` (`domain/repository/path`), most specific key first. */
  lookup(location: string): AuthConfig | undefined {
    for (let key = location; ; key = key.slice(0, key.lastIndexOf('/'))) {
      const found = this.entries.get(key);
      if (found) return found;
      if (!key.includes('/')) return undefined;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `https://index.docker.io/v1/` → `docker.io`; `quay.io/ns` stays; docker.io names normalised. */
function normaliseKey(key: string): string {
  if (/^[a-z]+:\/\//i.test(key)) return normaliseServerAddress(key);
  const [host, ...rest] = key.replace(/\/+$/, '').split('/');
  return [normaliseServerAddress(host ?? ''), ...rest].join('/');
}

function entryFrom(value: unknown, key: string, file: string): AuthConfig | undefined {
  if (typeof value !== 'object' || value === null) throw new FailedPreconditionError(`auth file ${file}: entry ${JSON.stringify(key)} is not an object`);
  const v = value as Record<string, unknown>;
  const auth = typeof v.auth === 'string' ? v.auth : '';
  const identityToken = typeof v.identitytoken === 'string' ? v.identitytoken : '';
  if (!auth && !identityToken) return undefined; // e.g. an entry only naming a credential helper
  if (auth) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    if (decoded.indexOf(':') <= 0) {
      throw new FailedPreconditionError(`auth file ${file}: entry ${JSON.stringify(key)}: "auth" is not base64 of "username:password"`);
    }
  }
  return { ...(auth ? { auth } : {}), ...(identityToken ? { identityToken } : {}) };
}

/** Reads the table; a missing file is an empty table, anything else wrong refuses the pull. */
export async function loadAuthFile(file: string): Promise<AuthTable> {
  let text: string;
  try {
    const st = await stat(file);
    if ((st.mode & 0o044) !== 0) {
      throw new FailedPreconditionError(
        `auth file ${file}: readable by group or others (mode ${(st.mode & 0o777).toString(8)}); it holds credentials, make it 0600`,
      );
    }
    if (st.size > AUTH_FILE_LIMIT) throw new FailedPreconditionError(`auth file ${file}: larger than ${AUTH_FILE_LIMIT} bytes`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof FailedPreconditionError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return AuthTable.empty;
    throw new FailedPreconditionError(`auth file ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FailedPreconditionError(`auth file ${file}: not valid JSON`);
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (auths === undefined) return AuthTable.empty;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) throw new FailedPreconditionError(`auth file ${file}: "auths" is not an object`);
  const entries = new Map<string, AuthConfig>();
  for (const [key, value] of Object.entries(auths)) {
    const entry = entryFrom(value, key, file);
    const normalised = normaliseKey(key);
    // An exact (non-legacy) key wins over a legacy one that normalises to the same host.
    if (entry && (!entries.has(normalised) || normalised === key)) entries.set(normalised, entry);
  }
  return new AuthTable(entries);
}
