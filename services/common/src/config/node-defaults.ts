// The node-wide container defaults of [runtime] (CRI-O's default_capabilities,
// default_sysctls, default_ulimits, and the pod /dev/shm size): their value
// syntax, parsed once here so the config check and runtime-svc agree.
// Owned by common/config; pure.

/** Linux capability names by number (linux/capability.h), without "CAP_". */
export const CAPABILITY_NAMES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
  'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW',
  'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT',
  'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD',
  'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG',
  'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
];

/** CRI-O's default_capabilities (crio.conf(5)), the schema default. */
export const CRIO_DEFAULT_CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'KILL',
];

/** "net_raw", "CAP_NET_RAW" → "NET_RAW"; undefined when no such capability. */
export function capabilityName(name: string): string | undefined {
  const upper = name.trim().toUpperCase();
  const bare = upper.startsWith('CAP_') ? upper.slice(4) : upper;
  return CAPABILITY_NAMES.includes(bare) ? bare : undefined;
}

export const capabilityListProblem = (v: string[]): string | undefined => {
  const bad = v.find((c) => capabilityName(c) === undefined);
  return bad === undefined ? undefined : `names an unknown capability ${JSON.stringify(bad)}`;
};

/**
 * The rlimits runc knows (RLIMIT_* of setrlimit(2)); ulimit names are these
 * lower-cased without the prefix, as docker/CRI-O write them.
 */
export const RLIMIT_NAMES: readonly string[] = [
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc',
  'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
];

export interface Ulimit {
  /** "RLIMIT_NOFILE", as OCI process.rlimits names it. */
  type: string;
  soft: number | bigint;
  hard: number | bigint;
}

/** RLIM_INFINITY (2^64-1, past a JS number's precision): what -1 ("unlimited") means in a ulimit. */
export const RLIM_INFINITY = 18446744073709551615n;

function limitValue(s: string): number | bigint | undefined {
  if (s === '-1' || s === 'unlimited') return RLIM_INFINITY;
  return /^\d{1,19}$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
}

/**
 * "nofile=1024:2048" (soft:hard) or "nofile=1024" (both), CRI-O's and
 * docker's syntax; -1 is unlimited. Throws with the reason.
 */
export function parseUlimit(text: string): Ulimit {
  const m = /^\s*([a-z]+)\s*=\s*([^:\s]+)\s*(?::\s*([^:\s]+)\s*)?$/i.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text)} is not "<name>=<soft>[:<hard>]"`);
  const name = m[1]!.toLowerCase();
  if (!RLIMIT_NAMES.includes(name)) throw new Error(`${JSON.stringify(text)}: unknown ulimit "${name}" (known: ${RLIMIT_NAMES.join(', ')})`);
  const soft = limitValue(m[2]!);
  const hard = m[3] === undefined ? soft : limitValue(m[3]);
  if (soft === undefined || hard === undefined) throw new Error(`${JSON.stringify(text)}: limits must be non-negative integers or -1`);
  if (soft > hard) throw new Error(`${JSON.stringify(text)}: soft limit ${m[2]} is above the hard limit ${m[3]}`);
  return { type: `RLIMIT_${name.toUpperCase()}`, soft, hard };
}

export function ulimitListProblem(v: string[]): string | undefined {
  const seen = new Set<string>();
  for (const u of v) {
    try {
      const { type } = parseUlimit(u);
      if (seen.has(type)) return `sets ${type.slice(7).toLowerCase()} twice`;
      seen.add(type);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/** Namespaced sysctls, the only ones a container may get (as Kubernetes' safe+unsafe namespaced sets). */
export const IPC_SYSCTL = /^(kernel\.shm[a-z_]*|kernel\.msg[a-z_]*|kernel\.sem|fs\.mqueue\..+)$/;
export const NET_SYSCTL = /^net\..+/;

/** "net.ipv4.ping_group_range = 0 2147483647" → [name, value], spaces around "=" trimmed as CRI-O does. */
export function parseSysctl(text: string): [string, string] {
  const i = text.indexOf('=');
  const name = i < 0 ? '' : text.slice(0, i).trim();
  if (name === '' || /\s/.test(name)) throw new Error(`${JSON.stringify(text)} is not "<name>=<value>"`);
  const norm = name.includes('/') && !name.includes('.') ? name.replace(/\//g, '.') : name;
  if (!IPC_SYSCTL.test(norm) && !NET_SYSCTL.test(norm)) {
    throw new Error(`${JSON.stringify(text)}: "${name}" is not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)`);
  }
  return [norm, text.slice(i + 1).trim()];
}

export function sysctlListProblem(v: string[]): string | undefined {
  for (const s of v) {
    try {
      parseSysctl(s);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** "65536k", "64m", "1g", "67108864" → bytes (binary units, as containers.conf's shm_size). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${JSON.stringify(text)} is not a size such as "65536k", "64m" or "1g"`);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${JSON.stringify(text)} must be a positive size`);
  return n;
}

export function sizeProblem(v: string): string | undefined {
  try {
    parseSize(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
