// The crius.toml schema: every key with its type, default and one line of
// documentation. Defaults live only here; validate.ts checks a parsed file
// against it and docs are generated from it, so they cannot drift.
import {
  CRIO_DEFAULT_CAPABILITIES,
  capabilityListProblem,
  sizeProblem,
  sysctlListProblem,
  ulimitListProblem,
} from './node-defaults.js';

export type FieldType = 'string' | 'number' | 'boolean' | 'string[]';

export interface Field {
  type: FieldType;
  default: string | number | boolean | string[];
  doc: string;
  enum?: readonly string[];
  /** Lower/upper bound for numbers. */
  min?: number;
  max?: number;
  /** Further check of a value of the right type: a reason it is wrong, or undefined. */
  check?: (value: never) => string | undefined;
}

export interface Section {
  doc: string;
  fields: Record<string, Field>;
  /** A map of named sub-tables ([runtime.handlers.<name>]) with their own fields. */
  tables?: Record<string, { doc: string; fields: Record<string, Field>; defaults: Record<string, Record<string, unknown>> }>;
}

type Extra = Partial<Omit<Field, 'type' | 'default' | 'doc'>>;
const str = (d: string, doc: string, extra: Extra = {}): Field & { type: 'string' } => ({ ...extra, type: 'string', default: d, doc });
const num = (d: number, doc: string, extra: Extra = {}): Field & { type: 'number' } => ({ ...extra, type: 'number', default: d, doc });
const bool = (d: boolean, doc: string): Field & { type: 'boolean' } => ({ type: 'boolean', default: d, doc });
const list = (d: string[], doc: string, extra: Extra = {}): Field & { type: 'string[]' } => ({ ...extra, type: 'string[]', default: d, doc });

/** An absolute path, or empty where the key allows "none". */
const absoluteOrEmpty = (v: string) => (v === '' || v.startsWith('/') ? undefined : 'must be an absolute path (or empty)');
const absolute = (v: string) => (v.startsWith('/') ? undefined : 'must be an absolute path');
const absoluteList = (v: string[]) => v.map((p) => (p.startsWith('/') ? undefined : `${JSON.stringify(p)} is not an absolute path`)).find(Boolean);
/** CRI-O's rule: no limit (negative), or at least conmon's 8 KiB read buffer. */
const logSizeMax = (v: number) => (v < 0 || v >= 8192 ? undefined : 'must be negative (no limit) or at least 8192 (the monitor reads 8 KiB at a time)');

/**
 * pinned_images patterns as CRI-O documents them: exact (no `*`), a glob with one `*`
 * at the end, or a keyword with `*` at both ends; a `*` anywhere else matches nothing.
 */
export function pinnedPatternProblem(pattern: string): string | undefined {
  const inner = pattern.replace(/^\*/, '').replace(/\*$/, '');
  if (inner === '') return `${JSON.stringify(pattern)} matches nothing useful (use a name, "prefix*" or "*keyword*")`;
  if (inner.includes('*')) return `${JSON.stringify(pattern)}: "*" may only end a pattern ("prefix*") or surround it ("*keyword*")`;
  if (pattern.startsWith('*') && !pattern.endsWith('*')) return `${JSON.stringify(pattern)}: a leading "*" needs a trailing one ("*keyword*")`;
  return undefined;
}
const pinnedPatterns = (v: string[]) => v.map(pinnedPatternProblem).find((p) => p !== undefined);

export const SCHEMA = {
  log: {
    doc: 'Logging of every crius process (JSON lines on stderr).',
    fields: {
      level: str('info', 'Minimum level logged.', { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }),
    },
  },
  state: {
    doc: 'Where services keep state; each service uses a subdirectory named after it.',
    fields: {
      root: str('/var/lib/crius', 'Durable state (records, layers, blobs).'),
      run_root: str('/run/crius', 'Volatile state (sockets, exit files, pinned namespaces, bus credentials).'),
    },
  },
  api: {
    doc: 'The CRI endpoint served by cri-gateway.',
    fields: {
      listen: str('/run/crius/crius.sock', 'Unix socket path of the CRI gRPC server.'),
      socket_mode: str('0660', 'File mode of the CRI socket (octal).'),
      socket_group: str('', 'Group owning the CRI socket; empty keeps the process group.'),
      max_msg_size: num(16 * 1024 * 1024, 'Largest gRPC message accepted or sent, bytes.', { min: 1024, max: 64 * 1024 * 1024 }),
      streaming_address: str('127.0.0.1:10010', 'Address of the exec/attach/port-forward streaming server.'),
      metrics_address: str('127.0.0.1:9090', 'Address of the Prometheus metrics endpoint; empty disables it.'),
    },
  },
  bus: {
    doc: 'The node-local NATS bus between the gateway and the services.',
    fields: {
      address: str('127.0.0.1:4229', 'host:port of nats-server (loopback only).'),
      server_binary: str('nats-server', 'nats-server program the launcher starts.'),
      credentials_dir: str('', 'Directory of per-service bus credentials; empty means <run_root>/bus.'),
      request_timeout: num(600, 'Timeout in seconds of a bus call whose caller set no deadline (at most an hour: nats-server lets a service answer a request for that long).', { min: 1, max: 3600 }),
    },
  },
  runtime: {
    doc: 'Pod sandboxes and containers (runtime-svc).',
    fields: {
      default_handler: str('runc', 'Runtime handler used when a pod names none.'),
      cgroup_manager: str('cgroupfs', 'How pod and container cgroups are made.', { enum: ['cgroupfs', 'systemd'] }),
      conmon: str('', 'Monitor program; empty means the built native/conmon/build/crius-conmon.'),
      pids_limit: num(0, 'Default pids limit per container; 0 means none.', { min: 0 }),
      default_capabilities: list([...CRIO_DEFAULT_CAPABILITIES], 'Capabilities an unprivileged container gets before the request adds or drops any, CRI-O\'s list and names (`CAP_` optional, any case); an empty list gives none beyond what the request adds.', { check: capabilityListProblem }),
      default_sysctls: list([], 'Sysctls every container gets, as CRI-O\'s `"name=value"` (e.g. `"net.ipv4.ping_group_range=0 2147483647"`); only namespaced ones (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*). The pod\'s own sysctls win over a default of the same name; a net.* default is skipped for a host-network pod and an IPC one for a host-IPC pod, with a warning.', { check: sysctlListProblem }),
      default_ulimits: list([], 'Rlimits every container gets, as CRI-O\'s `"name=soft:hard"` (e.g. `"nofile=1024:2048"`; `"name=n"` sets both; -1 is unlimited); names are setrlimit(2)\'s without `RLIMIT_`, lower case. Empty: containers inherit runtime-svc\'s limits. A hard limit above runtime-svc\'s own needs CAP_SYS_RESOURCE.', { check: ulimitListProblem }),
      log_size_max: num(-1, 'Largest size in bytes of a container log file, as CRI-O\'s key: when the next record would pass it the monitor starts the file over (a new file renamed into place), so it never grows past the limit. Negative: no limit; else at least 8192.', { check: logSizeMax }),
      shm_size: str('65536k', 'Size of each pod\'s private /dev/shm tmpfs (containers.conf\'s key; CRI-O\'s 64 MiB default): bytes, or with a k, m or g suffix (binary units).', { check: sizeProblem }),
      cdi_spec_dirs: list(['/etc/cdi', '/var/run/cdi'], 'Directories of Container Device Interface specs (`*.json`, `*.yaml`) for CreateContainer\'s CDI_devices and `cdi.k8s.io/` annotations, as CRI-O and containerd name the key; read on every create that asks for a device; a later directory wins over an earlier one for the same device.', { check: absoluteList }),
      criu_path: str('', 'CRIU program for checkpoint/restore; empty means the build setup installs in /usr/local/lib/crius/criu when present, else criu from PATH.'),
      checkpoint_timeout: num(300, 'Seconds a checkpoint or restore may take when the request sets no timeout and no deadline.', { min: 1, max: 3600 }),
    },
    tables: {
      handlers: {
        doc: 'OCI runtimes by RuntimeClass handler name.',
        fields: {
          runtime_path: str('', 'Path or name of the OCI runtime binary.'),
          runtime_root: str('', 'State root passed as --root; empty uses <run_root>/runtime/<handler>.'),
          runtime_args: list([], 'Extra global arguments for the runtime.'),
        },
        defaults: { runc: { runtime_path: 'runc' }, crun: { runtime_path: 'crun' } },
      },
    },
  },
  image: {
    doc: 'Image pulls and the content store (image-svc).',
    fields: {
      unqualified_search_registries: list([], 'Registries tried in order for short names; empty takes `unqualified-search-registries` from registries_conf, and docker.io when that has none either.'),
      max_concurrent_downloads: num(3, 'Layers fetched in parallel per pull.', { min: 1, max: 32 }),
      platform: str('', 'os/arch[/variant] to pull; empty means this node.'),
      allow_root: bool(false, 'Let image-svc run as root (it parses untrusted registry data; `crius up` sets CRIUS_ALLOW_ROOT=1 for its development stack).'),
      signature_policy: str('/etc/containers/policy.json', 'containers-policy.json(5) checked before every pull (read each time): insecureAcceptAnything, reject and sigstoreSigned with a public key, per docker scope. A missing or invalid file refuses every pull, as CRI-O does (see docs/images.md).', { check: absolute }),
      registries_conf: str('/etc/containers/registries.conf', 'containers-registries.conf(5) (v2) read at start, then the *.conf files of the `<file>.d` directory beside it in lexical order; the default file may be missing, another path must exist; empty reads none. [image.registries] and unqualified_search_registries override it (docs/images.md).', { check: absoluteOrEmpty }),
      global_auth_file: str('/etc/containers/auth.json', 'containers-auth.json(5) credentials used for a registry the kubelet sends none for (keys host or host/namespace, `auth` or `identitytoken`); read on each pull that needs it; must not be readable by group or others; missing means none; empty disables.', { check: absoluteOrEmpty }),
      pinned_images: list([], 'Images ImageStatus/ListImages report as pinned, so the kubelet image GC keeps them: exact names (normalised: `busybox` is docker.io/library/busybox:latest), `prefix*` or `*keyword*`, case-insensitive, against every tag and digest name. pause_image is always pinned.', { check: pinnedPatterns }),
      pause_image: str('registry.k8s.io/pause:3.10', 'The sandbox image, as CRI-O `pause_image` and containerd `sandbox_image` name it: crius runs pods without one (catatonit from the host holds a shared PID namespace), but nodes pre-pull it, so it is pinned. Empty: none.'),
    },
    tables: {
      registries: {
        doc: 'Per-registry settings, keyed by host[:port].',
        fields: {
          mirrors: list([], 'Mirror hosts tried in order before the registry itself.'),
          insecure: bool(false, 'Plain HTTP (loopback registries are plain HTTP by default).'),
          ca_file: str('', 'PEM file of extra CA certificates for this registry.'),
        },
        defaults: {},
      },
    },
  },
  network: {
    doc: 'Pod networking with CNI (network-svc).',
    fields: {
      cni_conf_dirs: list(['/etc/cni/net.d'], 'Directories searched for .conf/.conflist files, first by name wins.'),
      cni_bin_dirs: list(['/usr/lib/cni', '/opt/cni/bin'], 'Directories searched for CNI plugin binaries.'),
      netns_dir: str('', 'Where network namespaces are pinned; empty means <run_root>/netns.'),
      plugin_timeout: num(60, 'Seconds a CNI plugin may run.', { min: 1 }),
      default_subnet: str('10.88.0.0/16', 'Subnet of the bridge config `crius up` installs when none exists.'),
      default_bridge: str('crius0', 'Bridge device of the config `crius up` installs when none exists.'),
    },
  },
} as const satisfies Record<string, Section>;

export type SectionName = keyof typeof SCHEMA;
