// install/uninstall into a temp root from a small fake build (so no build is
// needed): layout, owners and modes, idempotence, and that uninstall leaves
// only what --purge removes. The real build is installed by
// test/deploy/nats-config.test.ts and booted by test/deploy/boot.test.ts.
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, parseConfig, parseCredential } from '@crius/common';
import { execFileSync } from 'node:child_process';
import { SOURCE_ROOT, UNIT_FILES, install, mountsUnder, runtimeModules, uninstall } from './install.js';

const PACKAGES = ['common', 'cri-gateway', 'image-svc', 'storage-svc', 'runtime-svc', 'network-svc', 'monitor-svc', 'cli'];
const IDS = { 'crius-nats': 991, 'crius-gateway': 992, 'crius-image': 993, crius: 994 };

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** A built tree in miniature: manifests, dist, a nested and a dev-only npm package, conmon, deploy/. */
function fakeSource(dir: string): void {
  write(path.join(dir, 'package.json'), JSON.stringify({ dependencies: { alpha: '1' }, devDependencies: { devtool: '1' } }));
  for (const p of PACKAGES) {
    write(path.join(dir, 'services', p, 'package.json'), JSON.stringify({ name: `@crius/${p}`, dependencies: { '@crius/common': '0.1.0' } }));
    write(path.join(dir, 'services', p, 'dist/main.js'), `// ${p}\n`);
    write(path.join(dir, 'services', p, 'dist/main.test.js'), '// a test, not shipped\n');
  }
  write(path.join(dir, 'services/cli/bin/crius.js'), "import '../dist/main.js';\n");
  write(path.join(dir, 'node_modules/alpha/package.json'), JSON.stringify({ dependencies: { beta: '1' }, optionalDependencies: { 'not-on-this-platform': '1' } }));
  write(path.join(dir, 'node_modules/alpha/node_modules/beta/package.json'), JSON.stringify({}));
  write(path.join(dir, 'node_modules/devtool/package.json'), JSON.stringify({}));
  mkdirSync(path.join(dir, 'node_modules/@crius'), { recursive: true });
  symlinkSync('../../services/common', path.join(dir, 'node_modules/@crius/common'));
  for (const tool of ['crius-conmon', 'attach-bridge', 'port-bridge']) write(path.join(dir, 'native/conmon/build', tool), '#!/bin/sh\n');
  cpSync(path.join(SOURCE_ROOT, 'deploy'), path.join(dir, 'deploy'), { recursive: true });
}

/** A root whose /etc/passwd already has the crius accounts (useradd is not run in tests). */
function fakeRoot(dir: string): void {
  const users = Object.entries(IDS).filter(([n]) => n !== 'crius');
  write(path.join(dir, 'etc/passwd'), ['root:x:0:0:root:/root:/bin/sh', ...users.map(([n, id]) => `${n}:x:${id}:${id}::/nonexistent:/usr/sbin/nologin`)].join('\n') + '\n');
  write(path.join(dir, 'etc/group'), ['root:x:0:', ...Object.entries(IDS).map(([n, id]) => `${n}:x:${id}:`)].join('\n') + '\n');
}

/** Every path under root with type, mode and owner, for comparing states. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      const kind = st.isSymbolicLink() ? `link->${readlinkSync(p)}` : st.isDirectory() ? 'dir' : 'file';
      out.set(path.relative(root, p), `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

describe('crius install / uninstall', () => {
  let tmp: string;
  let src: string;
  let root: string;
  const at = (p: string) => path.join(root, p);

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'crius-install-'));
    src = path.join(tmp, 'src');
    root = path.join(tmp, 'root');
    fakeSource(src);
    fakeRoot(root);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the runtime npm packages, nested ones included, and no dev tools', () => {
    expect(runtimeModules(src)).toEqual(['node_modules/alpha', 'node_modules/alpha/node_modules/beta']);
  });

  it('installs program, units, config, directories and credentials with their owners and modes', async () => {
    const result = await install({ root, source: src, createUsers: false });
    expect(result.newCredentials).toHaveLength(8);

    const lib = at('usr/lib/crius');
    expect(existsSync(path.join(lib, 'services/image-svc/dist/main.js'))).toBe(true);
    expect(existsSync(path.join(lib, 'services/image-svc/dist/main.test.js'))).toBe(false);
    expect(realpathSync(path.join(lib, 'node_modules/@crius/common'))).toBe(realpathSync(path.join(lib, 'services/common')));
    expect(existsSync(path.join(lib, 'node_modules/alpha/node_modules/beta/package.json'))).toBe(true);
    expect(existsSync(path.join(lib, 'node_modules/devtool'))).toBe(false);
    // The monitor and the helpers runtime-svc (attach-bridge) and network-svc (port-bridge) run.
    for (const tool of ['crius-conmon', 'attach-bridge', 'port-bridge']) expect(statSync(path.join(lib, 'native/conmon/build', tool)).mode & 0o777).toBe(0o755);
    expect(existsSync(path.join(lib, 'libexec/crius-ready.mjs'))).toBe(true);
    expect(readlinkSync(at('usr/sbin/crius'))).toBe('../lib/crius/services/cli/bin/crius.js');

    for (const unit of UNIT_FILES) expect(readFileSync(at(`etc/systemd/system/${unit}`), 'utf8')).toBe(readFileSync(path.join(src, 'deploy/systemd', unit), 'utf8'));
    expect(readlinkSync(at('etc/systemd/system/multi-user.target.wants/crius.target'))).toBe('/etc/systemd/system/crius.target');
    expect(readlinkSync(at('run/crius/crius.sock'))).toBe('gateway/crius.sock');

    const config = parseConfig(readFileSync(at('etc/crius/crius.toml'), 'utf8'));
    expect(config.api.listen).toBe('/run/crius/gateway/crius.sock');
    expect(config.bus.credentials_dir).toBe('/etc/crius/bus');

    const owner = (p: string) => {
      const st = statSync(at(p));
      return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    };
    expect(owner('etc/crius/bus/gateway.nk')).toBe(`600 ${IDS['crius-gateway']}:${IDS['crius-gateway']}`);
    expect(owner('etc/crius/bus/image.nk')).toBe(`600 ${IDS['crius-image']}:${IDS['crius-image']}`);
    for (const user of ['storage', 'runtime', 'network', 'monitor', 'launcher', 'observer']) expect(owner(`etc/crius/bus/${user}.nk`)).toBe('600 0:0');
    expect(owner('etc/crius/nats/nats-server.conf')).toBe(`600 ${IDS['crius-nats']}:${IDS['crius-nats']}`);
    expect(owner('etc/crius/nats')).toBe(`750 0:${IDS['crius-nats']}`);
    expect(owner('var/lib/crius')).toBe('711 0:0');
    expect(owner('var/lib/crius/image')).toBe(`750 ${IDS['crius-image']}:${IDS['crius-image']}`);
    expect(owner('var/lib/crius/runtime')).toBe('711 0:0');
    expect(owner('var/log/pods')).toBe('755 0:0');
  });

  it('is idempotent: a second install keeps credentials and an edited config, and changes nothing else', async () => {
    await install({ root, source: src, createUsers: false });
    const creds = readFileSync(at('etc/crius/bus/runtime.nk'), 'utf8');
    write(at('etc/crius/crius.toml'), readFileSync(at('etc/crius/crius.toml'), 'utf8') + '\n[log]\nlevel = "debug"\n');
    const before = snapshot(root);
    const second = await install({ root, source: src, createUsers: false });
    expect(second.newCredentials).toEqual([]);
    expect(readFileSync(at('etc/crius/bus/runtime.nk'), 'utf8')).toBe(creds);
    expect(readFileSync(at('etc/crius/crius.toml'), 'utf8')).toContain('level = "debug"');
    expect(snapshot(root)).toEqual(before);
  });

  it('replaces a damaged credential and leaves the rest', async () => {
    await install({ root, source: src, createUsers: false });
    const image = readFileSync(at('etc/crius/bus/image.nk'), 'utf8');
    write(at('etc/crius/bus/storage.nk'), 'SUNOTASEED\n');
    const again = await install({ root, source: src, createUsers: false });
    expect(again.newCredentials).toEqual(['storage']);
    expect(readFileSync(at('etc/crius/bus/storage.nk'), 'utf8')).toMatch(/^SU[A-Z2-7]{56}\n$/);
    expect(readFileSync(at('etc/crius/bus/image.nk'), 'utf8')).toBe(image);
    expect(readFileSync(at('etc/crius/nats/nats-server.conf'), 'utf8')).toContain(parseCredential('storage', readFileSync(at('etc/crius/bus/storage.nk'), 'utf8'))!.publicKey);
  });

  it('migrates a node with password credentials to nkeys without a manual step', async () => {
    // What crius before nkeys left: a password per user and a config of bcrypt hashes.
    for (const user of ['gateway', 'image', 'storage', 'runtime', 'network', 'monitor', 'launcher', 'observer']) {
      write(at(`etc/crius/bus/${user}.json`), JSON.stringify({ user, password: 'p'.repeat(32) }) + '\n');
    }
    write(at('etc/crius/nats/nats-server.conf'), '{"authorization":{"users":[{"user":"gateway","password":"$2a$10$abc"}]}}\n');
    const r = await install({ root, source: src, createUsers: false });
    expect(r.migratedFromPasswords).toHaveLength(8);
    expect(r.newCredentials).toHaveLength(8);
    expect(readdirSync(at('etc/crius/bus')).sort()).toEqual(['gateway.nk', 'image.nk', 'launcher.nk', 'monitor.nk', 'network.nk', 'observer.nk', 'runtime.nk', 'storage.nk']);
    const conf = readFileSync(at('etc/crius/nats/nats-server.conf'), 'utf8');
    expect(conf).not.toMatch(/password|\$2a\$/);
    expect(conf).toContain(parseCredential('gateway', readFileSync(at('etc/crius/bus/gateway.nk'), 'utf8'))!.publicKey);
  });

  it('uninstall leaves only state, config and pod logs; --purge removes those too', async () => {
    const pristine = snapshot(root);
    await install({ root, source: src, createUsers: false });
    await install({ root, source: src, createUsers: false });
    await uninstall({ root, systemctl: false });
    const purgeable = /^(var\/lib\/crius(\/|$)|etc\/crius(\/crius\.toml)?$|var\/log\/pods$)/;
    const left = [...snapshot(root).entries()].filter(([p, kind]) => !pristine.has(p) && !(kind.startsWith('dir') && isSystemDir(p)));
    expect(left.map(([p]) => p).filter((p) => !purgeable.test(p))).toEqual([]);
    expect(existsSync(at('etc/crius/crius.toml'))).toBe(true);
    expect(existsSync(at('var/lib/crius/image'))).toBe(true);

    await uninstall({ root, purge: true, systemctl: false });
    const after = [...snapshot(root).entries()].filter(([p, kind]) => !pristine.has(p) && !(kind.startsWith('dir') && isSystemDir(p)));
    expect(after).toEqual([]);
    expect(readFileSync(at('etc/passwd'), 'utf8')).toContain('crius-image');
  });

  it('refuses to uninstall while pods still have mounts under its directories', async () => {
    await install({ root, source: src, createUsers: false });
    const pin = at('run/crius/netns');
    mkdirSync(pin, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', pin]);
    try {
      expect(mountsUnder([at('run/crius')])).toEqual([pin]);
      await expect(uninstall({ root, purge: true, systemctl: false })).rejects.toThrow(/mounts remain.*netns.*crictl rmp/);
      expect(existsSync(at('usr/lib/crius'))).toBe(true);
    } finally {
      execFileSync('umount', [pin]);
    }
    await uninstall({ root, purge: true, systemctl: false });
    expect(existsSync(at('run/crius'))).toBe(false);
  });

  it('reads mount points with escaped characters', () => {
    const info = '36 35 98:0 / /run/crius/netns/pod\\040a rw - nsfs nsfs rw\n37 35 98:0 / /run/other rw - tmpfs tmpfs rw\n';
    expect(mountsUnder(['/run/crius'], info)).toEqual(['/run/crius/netns/pod a']);
  });

  it('refuses a root that lacks the crius accounts unless told to create them', async () => {
    write(at('etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await expect(install({ root, source: src, createUsers: false })).rejects.toThrow(FailedPreconditionError);
    await expect(install({ root, source: src, createUsers: false })).rejects.toThrow(/user crius-\w+ is not in .*etc\/passwd/);
  });

  it('refuses an unbuilt tree, saying how to build it', async () => {
    rmSync(path.join(src, 'services/runtime-svc/dist'), { recursive: true });
    await expect(install({ root, source: src, createUsers: false })).rejects.toThrow(/runtime-svc\/dist.*npm run build/);
  });
});

/** Parent directories an install may create and need not remove (shared with the system). */
function isSystemDir(p: string): boolean {
  return ['etc', 'etc/systemd', 'etc/systemd/system', 'etc/systemd/system/multi-user.target.wants', 'etc/tmpfiles.d', 'usr', 'usr/lib', 'usr/sbin', 'var', 'var/lib', 'var/log', 'run'].includes(p);
}
