// `crius install` / `crius uninstall`: put the built program, the systemd
// units, users, directories and bus credentials on a node (or under `root`,
// so tests install into a temp dir). Idempotent; uninstall keeps only what
// `--purge` removes (state, config, users). Owner: deploy/ (issue 10).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUS_USERS,
  FailedPreconditionError,
  credentialFile,
  legacyCredentialFile,
  natsServerConfig,
  newCredential,
  parseConfig,
  parseCredential,
  setCredentialOwner,
  writeCredential,
  type BusCredential,
  type BusUser,
} from '@crius/common';

/** The repository (or unpacked release) holding the built services. */
export const SOURCE_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Workspace directories installed under /usr/lib/crius/services. */
const PACKAGES = ['common', 'cri-gateway', 'image-svc', 'storage-svc', 'runtime-svc', 'network-svc', 'monitor-svc', 'cli'];
const UNITS = ['crius-nats', 'crius-image', 'crius-storage', 'crius-runtime', 'crius-network', 'crius-monitor', 'crius-gateway'];
/** Unit files `install` writes (deploy/systemd/). */
export const UNIT_FILES = [...UNITS.map((u) => `${u}.service`), 'crius.target'];

/** Unprivileged accounts; every other bus user is a root service. */
const ACCOUNTS = { nats: 'crius-nats', gateway: 'crius-gateway', image: 'crius-image' } as const;
/** /var/lib/crius/<service>: owner and mode, as the unit's StateDirectory= makes them. */
const STATE_DIRS: Record<string, [string, number]> = {
  image: [ACCOUNTS.image, 0o750],
  storage: ['root', 0o711],
  runtime: ['root', 0o711],
  network: ['root', 0o700],
  monitor: ['root', 0o700],
};
/** Members may use the CRI socket. */
const SOCKET_GROUP = 'crius';

const P = {
  lib: 'usr/lib/crius',
  bin: 'usr/sbin/crius',
  units: 'etc/systemd/system',
  wants: 'etc/systemd/system/multi-user.target.wants/crius.target',
  tmpfiles: 'etc/tmpfiles.d/crius.conf',
  etc: 'etc/crius',
  config: 'etc/crius/crius.toml',
  bus: 'etc/crius/bus',
  nats: 'etc/crius/nats',
  state: 'var/lib/crius',
  run: 'run/crius',
  podLogs: 'var/log/pods',
};

export const DEFAULT_CONFIG = `# crius configuration, written by \`crius install\` when absent; kept by
# reinstall and uninstall, removed by \`crius uninstall --purge\`.
# Every key with its default: \`crius config\`.

[api]
# cri-gateway may write only /run/crius/gateway; /run/crius/crius.sock links here.
listen = "/run/crius/gateway/crius.sock"
socket_mode = "0660"
socket_group = "${SOCKET_GROUP}"

[bus]
# One file per bus user, readable only by the service that is that user.
credentials_dir = "/etc/crius/bus"
`;

export interface InstallOptions {
  /** Install under this directory instead of the node's root. */
  root?: string;
  /** Built tree to install from (services/<x>/dist, node_modules, native/conmon/build). */
  source?: string;
  /** Create the system users with useradd/groupadd (default: only when root is '/'). */
  createUsers?: boolean;
  /** Run `systemctl daemon-reload` (default: root is '/' and systemd is PID 1). */
  systemctl?: boolean;
  log?: (line: string) => void;
}

export interface UninstallOptions {
  root?: string;
  /** Also remove state (/var/lib/crius), config (/etc/crius), empty /var/log/pods and, with createUsers semantics, the users. */
  purge?: boolean;
  /** Remove the system users on purge (default: only when root is '/'). */
  removeUsers?: boolean;
  systemctl?: boolean;
  log?: (line: string) => void;
}

export interface InstallResult {
  /** Bus users whose credentials were created now (others were kept). */
  newCredentials: BusUser[];
  /** Bus users whose password file of an older crius was replaced by an nkey. */
  migratedFromPasswords: BusUser[];
}

interface Ids {
  uid: number;
  gid: number;
}

export async function install(opts: InstallOptions = {}): Promise<InstallResult> {
  const root = path.resolve(opts.root ?? '/');
  const src = path.resolve(opts.source ?? SOURCE_ROOT);
  const log = opts.log ?? (() => undefined);
  const at = (p: string) => path.join(root, p);
  checkBuilt(src);

  if (opts.createUsers ?? root === '/') createUsers(root, log);
  const account = accountsOf(root);

  log(`installing the program into ${at(P.lib)}`);
  await installProgram(src, at(P.lib));
  await mkdir(path.dirname(at(P.bin)), { recursive: true });
  await replaceSymlink('../lib/crius/services/cli/bin/crius.js', at(P.bin));

  log(`installing systemd units into ${at(P.units)}`);
  await mkdir(at(P.units), { recursive: true });
  for (const unit of UNIT_FILES) {
    await writeFile(path.join(at(P.units), unit), await readFile(path.join(src, 'deploy/systemd', unit)), { mode: 0o644 });
  }
  await mkdir(path.dirname(at(P.wants)), { recursive: true });
  await replaceSymlink('/etc/systemd/system/crius.target', at(P.wants));
  await mkdir(path.dirname(at(P.tmpfiles)), { recursive: true });
  await writeFile(at(P.tmpfiles), await readFile(path.join(src, 'deploy/tmpfiles.d/crius.conf')), { mode: 0o644 });

  await ensureDir(at(P.etc), 0o755, account('root'));
  if (!existsSync(at(P.config))) await writeFile(at(P.config), DEFAULT_CONFIG, { mode: 0o644 });
  const config = parseConfig(await readFile(at(P.config), 'utf8'), at(P.config));

  // What tmpfiles.d/crius.conf and the units' State/RuntimeDirectory= make at boot.
  await ensureDir(at(P.state), 0o711, account('root'));
  for (const [dir, [owner, mode]] of Object.entries(STATE_DIRS)) await ensureDir(path.join(at(P.state), dir), mode, account(owner));
  await ensureDir(at(P.podLogs), 0o755, account('root'));
  await ensureDir(at(P.run), 0o755, account('root'));
  await replaceSymlink('gateway/crius.sock', path.join(at(P.run), 'crius.sock'));

  const result = await writeBusCredentials(root, config, account, log);
  if (opts.systemctl ?? (root === '/' && existsSync('/run/systemd/system'))) {
    execFileSync('systemctl', ['daemon-reload'], { stdio: 'inherit' });
    log('units installed; start them with: systemctl start crius.target');
  }
  return result;
}

export async function uninstall(opts: UninstallOptions = {}): Promise<void> {
  const root = path.resolve(opts.root ?? '/');
  const at = (p: string) => path.join(root, p);
  const log = opts.log ?? (() => undefined);
  const systemctl = opts.systemctl ?? (root === '/' && existsSync('/run/systemd/system'));
  if (systemctl) {
    execFileSync('systemctl', ['disable', 'crius.target'], { stdio: 'inherit' });
    execFileSync('systemctl', ['stop', ...UNIT_FILES], { stdio: 'inherit' });
  }
  const remove = [P.lib, P.bin, P.wants, P.tmpfiles, P.bus, P.nats, P.run, ...UNIT_FILES.map((u) => `${P.units}/${u}`)];
  if (opts.purge) remove.push(P.state, P.etc);
  // Stopping crius leaves pods (overlay rootfs, netns pins, shm): removing
  // files under those mounts would reach into the containers.
  const mounted = mountsUnder([P.run, P.state].map(at));
  if (mounted.length) {
    throw new FailedPreconditionError(`uninstall: ${mounted.length} mounts remain under crius's directories (${mounted.slice(0, 3).join(', ')}...); remove the pods first (crictl rmp -af)`);
  }
  for (const p of remove) await rm(at(p), { recursive: true, force: true });
  // /var/log/pods may hold kubelet's logs of pods run by another runtime: only an empty one goes.
  if (opts.purge) await rmdir(at(P.podLogs)).catch(() => undefined);
  if (opts.purge && (opts.removeUsers ?? root === '/')) removeUsers(root, log);
  if (systemctl) execFileSync('systemctl', ['daemon-reload'], { stdio: 'inherit' });
  log(opts.purge ? 'crius removed with its state and config' : `crius removed; kept ${at(P.state)} and ${at(P.config)} (--purge removes them)`);
}

/** Mount points at or below any of dirs, from /proc/self/mountinfo (field 5, octal-escaped). */
export function mountsUnder(dirs: string[], mountinfo = readFileSyncOr('/proc/self/mountinfo')): string[] {
  const points = mountinfo.split('\n').map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((m) => m && dirs.some((d) => m === d || m.startsWith(`${d}/`)));
}

function checkBuilt(src: string): void {
  const missing = PACKAGES.map((p) => path.join(src, 'services', p, 'dist')).filter((d) => !existsSync(d));
  if (missing.length) throw new FailedPreconditionError(`install from ${src}: not built (missing ${missing.join(', ')}); run \`npm run build\` first`);
}

// ---- the program -----------------------------------------------------------

async function installProgram(src: string, lib: string): Promise<void> {
  // Replace as a whole so files of an older version never linger.
  await rm(lib, { recursive: true, force: true });
  const skip = (f: string) => !/\.test\.(js|d\.ts)(\.map)?$|\.tsbuildinfo$/.test(f);
  for (const pkg of PACKAGES) {
    const from = path.join(src, 'services', pkg);
    const to = path.join(lib, 'services', pkg);
    await mkdir(to, { recursive: true });
    await cp(path.join(from, 'package.json'), path.join(to, 'package.json'));
    await cp(path.join(from, 'dist'), path.join(to, 'dist'), { recursive: true, filter: skip });
    if (existsSync(path.join(from, 'bin'))) await cp(path.join(from, 'bin'), path.join(to, 'bin'), { recursive: true });
    const name = JSON.parse(readFileSync(path.join(from, 'package.json'), 'utf8')).name as string;
    await mkdir(path.join(lib, 'node_modules', path.dirname(name)), { recursive: true });
    await symlink(path.relative(path.join(lib, 'node_modules', path.dirname(name)), to), path.join(lib, 'node_modules', name));
  }
  for (const dir of runtimeModules(src)) {
    await cp(path.join(src, dir), path.join(lib, dir), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (f) => path.relative(path.join(src, dir), f).split(path.sep)[0] !== 'node_modules',
    });
  }
  // Where runtime-svc (the monitor, attach-bridge) and network-svc (port-bridge) look for them relative to their dist/.
  for (const tool of ['crius-conmon', 'attach-bridge', 'port-bridge']) {
    const built = path.join(src, 'native/conmon/build', tool);
    if (!existsSync(built)) continue;
    await mkdir(path.join(lib, 'native/conmon/build'), { recursive: true });
    await cp(built, path.join(lib, 'native/conmon/build', tool));
    await chmod(path.join(lib, 'native/conmon/build', tool), 0o755);
  }
  await mkdir(path.join(lib, 'libexec'), { recursive: true });
  await cp(path.join(src, 'deploy/libexec/crius-ready.mjs'), path.join(lib, 'libexec/crius-ready.mjs'));
  await mkdir(path.join(lib, 'deploy'), { recursive: true });
  await cp(path.join(src, 'deploy/README.md'), path.join(lib, 'deploy/README.md'));
}

/**
 * The npm packages the services load at run time, as paths relative to src:
 * the production dependencies of the root and workspace manifests and theirs,
 * resolved the way Node does (nearest node_modules upwards). Dev tools stay out.
 */
export function runtimeModules(src: string): string[] {
  type Manifest = Record<string, Record<string, string> | undefined>;
  const manifest = (dir: string) => JSON.parse(readFileSync(path.join(src, dir, 'package.json'), 'utf8')) as Manifest;
  // Peer and optional dependencies may be absent on purpose (other platforms); plain ones may not.
  const deps = (m: Manifest, from: string) => [
    ...Object.keys(m.dependencies ?? {}).map((name) => ({ from, name, required: true })),
    ...Object.keys({ ...m.peerDependencies, ...m.optionalDependencies }).map((name) => ({ from, name, required: false })),
  ];
  const found = new Set<string>();
  const queue = ['.', ...PACKAGES.map((p) => `services/${p}`)].flatMap((dir) => deps(manifest(dir), '.'));
  while (queue.length) {
    const { from, name, required } = queue.pop()!;
    if (name.startsWith('@crius/')) continue;
    const dir = resolvePackage(src, from, name);
    if (!dir) {
      if (required) throw new FailedPreconditionError(`install: npm package ${name} (needed by ${from}) is not in node_modules; run \`npm ci\``);
      continue;
    }
    if (found.has(dir)) continue;
    found.add(dir);
    queue.push(...deps(manifest(dir), dir));
  }
  return [...found].sort();
}

function resolvePackage(src: string, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(src, candidate, 'package.json'))) return path.normalize(candidate);
    if (dir === '.') return undefined;
  }
}

// ---- users, directories, credentials -----------------------------------------

function createUsers(root: string, log: (l: string) => void): void {
  const chroot = root === '/' ? [] : ['--root', root];
  const groups = readFileSync(path.join(root, 'etc/group'), 'utf8');
  if (!new RegExp(`^${SOCKET_GROUP}:`, 'm').test(groups)) {
    execFileSync('groupadd', [...chroot, '--system', SOCKET_GROUP]);
    log(`created group ${SOCKET_GROUP} (members may use the CRI socket)`);
  }
  for (const [role, name] of Object.entries(ACCOUNTS)) {
    if (new RegExp(`^${name}:`, 'm').test(readFileSync(path.join(root, 'etc/passwd'), 'utf8'))) continue;
    execFileSync('useradd', [...chroot, '--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', `crius ${role}`, name]);
    log(`created user ${name}`);
  }
}

function removeUsers(root: string, log: (l: string) => void): void {
  const chroot = root === '/' ? [] : ['--root', root];
  for (const [cmd, name] of [...Object.values(ACCOUNTS).map((n) => ['userdel', n]), ['groupdel', SOCKET_GROUP]] as const) {
    if (spawnSync(cmd, [...chroot, name], { stdio: 'ignore' }).status === 0) log(`removed ${name}`);
  }
}

/** Looks accounts up in <root>/etc/passwd, so a temp root uses its own ids. */
function accountsOf(root: string): (name: string) => Ids {
  const table = (file: string) =>
    new Map(
      readFileSyncOr(path.join(root, file))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':'))
        .map((f) => [f[0]!, f] as const),
    );
  const passwd = table('etc/passwd');
  const group = table('etc/group');
  return (name) => {
    if (name === 'root') return { uid: 0, gid: 0 };
    const u = passwd.get(name);
    if (!u) throw new FailedPreconditionError(`install: user ${name} is not in ${path.join(root, 'etc/passwd')} (create it, or install with createUsers)`);
    return { uid: Number(u[2]), gid: Number(group.get(name)?.[2] ?? u[3]) };
  };
}

function readFileSyncOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function ensureDir(dir: string, mode: number, owner: Ids): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chown(dir, owner.uid, owner.gid);
  await chmod(dir, mode);
}

async function replaceSymlink(target: string, link: string): Promise<void> {
  const st = await lstat(link).catch(() => undefined);
  if (st && !st.isSymbolicLink() && st.isDirectory()) throw new FailedPreconditionError(`install: ${link} is a directory, expected a link to ${target}`);
  await rm(link, { force: true });
  await symlink(target, link);
}

function unixAccount(user: BusUser): string {
  return user === 'gateway' || user === 'image' ? ACCOUNTS[user] : 'root';
}

/**
 * One nkey seed file per bus user, owned by the account that runs it, mode
 * 0600; existing valid ones are kept so a reinstall does not log services
 * out. A password file of an older crius (<user>.json) is replaced by a new
 * nkey, so an upgraded node needs no manual step. nats-server.conf is
 * regenerated from the public keys and grants.ts.
 */
async function writeBusCredentials(
  root: string,
  config: ReturnType<typeof parseConfig>,
  account: (name: string) => Ids,
  log: (l: string) => void,
): Promise<InstallResult> {
  const dir = path.join(root, P.bus);
  await ensureDir(dir, 0o755, account('root'));
  const creds: BusCredential[] = [];
  const newCredentials: BusUser[] = [];
  const migratedFromPasswords: BusUser[] = [];
  for (const user of BUS_USERS) {
    const owner = account(unixAccount(user));
    let cred = parseCredential(user, readFileSyncOr(credentialFile(dir, user)));
    if (cred) {
      await setCredentialOwner(dir, user, owner);
      await rm(legacyCredentialFile(dir, user), { force: true });
    } else {
      if (existsSync(legacyCredentialFile(dir, user))) migratedFromPasswords.push(user);
      cred = newCredential(user);
      newCredentials.push(user);
      await writeCredential(dir, cred, owner); // removes the legacy file too
    }
    creds.push(cred);
  }
  if (newCredentials.length) log(`bus credentials (nkeys) created for ${newCredentials.join(', ')}`);
  if (migratedFromPasswords.length) log(`bus password files replaced by nkeys for ${migratedFromPasswords.join(', ')}`);

  const i = config.bus.address.lastIndexOf(':');
  const text = natsServerConfig({
    host: config.bus.address.slice(0, i),
    port: Number(config.bus.address.slice(i + 1)),
    maxPayloadBytes: config.api.max_msg_size,
    users: creds.map(({ user, publicKey }) => ({ user, publicKey })),
  });
  const nats = account(ACCOUNTS.nats);
  await ensureDir(path.join(root, P.nats), 0o750, { uid: 0, gid: nats.gid });
  const conf = path.join(root, P.nats, 'nats-server.conf');
  await writeFile(conf, text, { mode: 0o600 });
  await chown(conf, nats.uid, nats.gid);
  await chmod(conf, 0o600);
  return { newCredentials, migratedFromPasswords };
}
