// The crius.toml schema: every key with its type, default and one line of
// documentation. Defaults live only here; validate.ts checks a parsed file
// against it and docs are generated from it, so they cannot drift.

export type FieldType = 'string' | 'number' | 'boolean' | 'string[]';

export interface Field {
  type: FieldType;
  default: string | number | boolean | string[];
  doc: string;
  enum?: readonly string[];
  /** Lower/upper bound for numbers. */
  min?: number;
  max?: number;
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
const list = (d: string[], doc: string): Field & { type: 'string[]' } => ({ type: 'string[]', default: d, doc });

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
      unqualified_search_registries: list(['docker.io'], 'Registries tried in order for short names.'),
      max_concurrent_downloads: num(3, 'Layers fetched in parallel per pull.', { min: 1, max: 32 }),
      platform: str('', 'os/arch[/variant] to pull; empty means this node.'),
      allow_root: bool(false, 'Let image-svc run as root (it parses untrusted registry data; `crius up` sets CRIUS_ALLOW_ROOT=1 for its development stack).'),
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
