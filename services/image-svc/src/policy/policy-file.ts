// containers-policy.json(5), parsed as strictly as containers/image does:
// unknown or duplicated-meaning fields make the whole file invalid. Requirements
// crius cannot evaluate (GPG `signedBy`, `signedBaseLayer`, sigstore with Fulcio,
// PKI or Rekor) are kept as unsatisfiable, so only pulls under their scope are
// refused, naming the rule. Public keys are loaded (PEM PKIX: ECDSA, Ed25519,
// RSA) when the file is read. Owner: image-svc.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FailedPreconditionError } from '@crius/common';

export type IdentityMatch =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export interface SigstoreKey {
  key: KeyObject;
  /** `keyPath /etc/…` or `keyData #1`, for messages. */
  source: string;
}

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'sigstoreSigned'; keys: SigstoreKey[]; signedIdentity: IdentityMatch }
  /** A rule crius cannot check: never satisfied. */
  | { type: 'unsupported'; rule: string; reason: string };

export interface Policy {
  default: Requirement[];
  /** transport → scope → requirements; the scope "" is the transport's default. */
  transports: Record<string, Record<string, Requirement[]>>;
}

type Json = Record<string, unknown>;

class PolicyError extends Error {}

function fail(where: string, why: string): never {
  throw new PolicyError(where ? `${where}: ${why}` : why);
}

function object(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a JSON object');
  return v as Json;
}

function onlyFields(o: Json, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(where, `unknown field ${JSON.stringify(k)}`);
}

function string(o: Json, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') fail(where, `${key} must be a non-empty string`);
  return v;
}

function stringList(o: Json, key: string, where: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) fail(where, `${key} must be a non-empty list of strings`);
  return v as string[];
}

function parseIdentity(raw: unknown, where: string): IdentityMatch {
  if (raw === undefined) return { type: 'matchRepoDigestOrExact' };
  const o = object(raw, where);
  switch (o.type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyFields(o, ['type'], where);
      return { type: o.type };
    case 'exactReference':
      onlyFields(o, ['type', 'dockerReference'], where);
      return { type: 'exactReference', dockerReference: string(o, 'dockerReference', where) };
    case 'exactRepository':
      onlyFields(o, ['type', 'dockerRepository'], where);
      return { type: 'exactRepository', dockerRepository: string(o, 'dockerRepository', where) };
    case 'remapIdentity':
      onlyFields(o, ['type', 'prefix', 'signedPrefix'], where);
      return { type: 'remapIdentity', prefix: string(o, 'prefix', where), signedPrefix: string(o, 'signedPrefix', where) };
    default:
      fail(where, `unknown signedIdentity type ${JSON.stringify(o.type)}`);
  }
}

function publicKey(pem: Buffer, source: string, where: string): SigstoreKey {
  try {
    const key = createPublicKey(pem);
    if (!['ec', 'ed25519', 'rsa'].includes(key.asymmetricKeyType ?? '')) fail(where, `${source}: unsupported key type ${key.asymmetricKeyType}`);
    return { key, source };
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    fail(where, `${source}: not a PEM public key (${(err as Error).message})`);
  }
}

async function readKey(path: string, where: string): Promise<SigstoreKey> {
  try {
    return publicKey(await readFile(path), `keyPath ${path}`, where);
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    fail(where, `keyPath ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

const SIGSTORE_FIELDS = [
  'type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'fulcio', 'pki',
  'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData', 'rekorPublicKeyDatas', 'signedIdentity',
];

async function parseSigstore(o: Json, where: string): Promise<Requirement> {
  onlyFields(o, SIGSTORE_FIELDS, where);
  const signedIdentity = parseIdentity(o.signedIdentity, `${where} signedIdentity`);
  const sources = ['keyPath', 'keyPaths', 'keyData', 'keyDatas', 'fulcio', 'pki'].filter((k) => o[k] !== undefined);
  if (sources.length !== 1) fail(where, `exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be present (found ${sources.length})`);
  const rule = 'sigstoreSigned';
  if (o.fulcio !== undefined || o.pki !== undefined) {
    return { type: 'unsupported', rule, reason: `${sources[0]} certificates are not supported by crius (only public keys: keyPath, keyPaths, keyData)` };
  }
  if (Object.keys(o).some((k) => k.startsWith('rekorPublicKey'))) {
    return { type: 'unsupported', rule, reason: 'Rekor inclusion proofs are not checked by crius; drop the rekorPublicKey fields or pull elsewhere' };
  }
  let keys: SigstoreKey[];
  if (o.keyPath !== undefined) keys = [await readKey(string(o, 'keyPath', where), where)];
  else if (o.keyPaths !== undefined) keys = await Promise.all(stringList(o, 'keyPaths', where).map((p) => readKey(p, where)));
  else {
    const datas = o.keyData !== undefined ? [string(o, 'keyData', where)] : stringList(o, 'keyDatas', where);
    keys = datas.map((d, i) => publicKey(Buffer.from(d, 'base64'), `keyData #${i + 1}`, where));
  }
  return { type: 'sigstoreSigned', keys, signedIdentity };
}

async function parseRequirement(raw: unknown, where: string): Promise<Requirement> {
  const o = object(raw, where);
  switch (o.type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyFields(o, ['type'], where);
      return { type: o.type };
    case 'sigstoreSigned':
      return parseSigstore(o, where);
    case 'signedBy':
      onlyFields(o, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], where);
      parseIdentity(o.signedIdentity, `${where} signedIdentity`);
      return { type: 'unsupported', rule: 'signedBy', reason: 'GPG simple signing is not supported by crius; use sigstoreSigned' };
    case 'signedBaseLayer':
      onlyFields(o, ['type', 'baseLayerIdentity'], where);
      return { type: 'unsupported', rule: 'signedBaseLayer', reason: 'not implemented (nor is it in containers/image)' };
    default:
      fail(where, `unknown requirement type ${JSON.stringify(o.type)}`);
  }
}

async function parseRequirements(raw: unknown, where: string): Promise<Requirement[]> {
  if (!Array.isArray(raw) || raw.length === 0) fail(where, 'must be a non-empty list of requirements');
  return Promise.all(raw.map((r, i) => parseRequirement(r, `${where}[${i}]`)));
}

/** Parses a policy; `file` names it in messages. Errors are FailedPrecondition: the node's policy is unusable. */
export async function parsePolicy(text: string, file: string): Promise<Policy> {
  try {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      fail('', `not valid JSON (${(err as Error).message})`);
    }
    const top = object(json, '');
    onlyFields(top, ['default', 'transports'], '');
    if (top.default === undefined) fail('', 'the "default" requirements are missing');
    const policy: Policy = { default: await parseRequirements(top.default, 'default'), transports: {} };
    const transports = top.transports === undefined ? {} : object(top.transports, 'transports');
    for (const [name, scopes] of Object.entries(transports)) {
      const table: Record<string, Requirement[]> = {};
      for (const [scope, reqs] of Object.entries(object(scopes, `transports.${name}`))) {
        table[scope] = await parseRequirements(reqs, `transports.${name}[${JSON.stringify(scope)}]`);
      }
      policy.transports[name] = table;
    }
    return policy;
  } catch (err) {
    if (err instanceof PolicyError) throw new FailedPreconditionError(`signature policy ${file}: ${err.message}`);
    throw err;
  }
}

/** Reads and parses the policy file; a missing file is an error, as containers/image treats it (fail closed). */
export async function loadPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist; every pull is refused until a policy is in place' : `cannot read (${code ?? (err as Error).message})`;
    throw new FailedPreconditionError(`signature policy ${file}: ${why}`, { cause: err });
  }
  return parsePolicy(text, file);
}
