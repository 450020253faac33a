// config.json and process.json text. OCI rlimits are uint64 and "unlimited"
// is 2^64-1, which a JS number cannot hold: such values are bigints in
// memory and bare integers in the file. Owned by runtime-svc/spec; pure.

const TAG = '\u0000u64:';

/** JSON.stringify, with every bigint written as a bare integer. */
export function ociJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${TAG}${v}` : v)).replace(/"\\u0000u64:(\d+)"/g, '$1');
}

/** JSON.parse keeping rlimit values past 2^53 exact (as bigints). */
export function parseOciJson<T>(text: string): T {
  const tagged = text.replace(/(?<!\\)("(?:soft|hard)"\s*:\s*)(\d{16,20})(?=\s*[,}])/g, (m, key: string, n: string) =>
    Number.isSafeInteger(Number(n)) ? m : `${key}"\\u0000u64:${n}"`,
  );
  return JSON.parse(tagged, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(TAG) ? BigInt(v.slice(TAG.length)) : v)) as T;
}
