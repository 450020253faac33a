// The production bus config `crius install` writes from the real build:
// every bus user with exactly the permissions of permissionsFor() (the source
// `crius up` uses too), bcrypt hashes only, enforced by a real nats-server; and
// the installed program runs from /usr/lib/crius with its own node_modules.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUS_USERS, permissionsFor, readCredential, type BusUser } from '@crius/common';
import { install } from '../../services/cli/src/commands/install.js';
import { REPO } from './unit-file.js';

interface NatsUser {
  user: string;
  password: string;
  permissions: { publish: { allow: string[] }; subscribe: { allow: string[] }; allow_responses?: unknown };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('production bus config from crius install', () => {
  let root: string;
  let port: number;
  let nats: ChildProcess | undefined;
  const conns: NatsConnection[] = [];
  const conf = () => path.join(root, 'etc/crius/nats/nats-server.conf');
  const credDir = () => path.join(root, 'etc/crius/bus');

  beforeAll(async () => {
    if (!existsSync(path.join(REPO, 'services/runtime-svc/dist/main.js'))) throw new Error('this test installs the real build: run `npm run build` first');
    root = mkdtempSync(path.join(os.tmpdir(), 'crius-natsconf-'));
    port = await freePort();
    mkdirSync(path.join(root, 'etc/crius'), { recursive: true });
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\ncrius-nats:x:991:991::/:/x\ncrius-gateway:x:992:992::/:/x\ncrius-image:x:993:993::/:/x\n');
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\ncrius-nats:x:991:\ncrius-gateway:x:992:\ncrius-image:x:993:\ncrius:x:994:\n');
    // An existing config is kept by install: the bus goes on a free port.
    writeFileSync(path.join(root, 'etc/crius/crius.toml'), `[bus]\naddress = "127.0.0.1:${port}"\ncredentials_dir = "/etc/crius/bus"\n`);
    await install({ root, createUsers: false, systemctl: false });
  });

  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    if (nats?.pid) process.kill(nats.pid, 'SIGINT');
    rmSync(root, { recursive: true, force: true });
  });

  it('holds every bus user with the permissions of permissionsFor, as bcrypt hashes', async () => {
    const config = JSON.parse(readFileSync(conf(), 'utf8')) as { host: string; port: number; authorization: { users: NatsUser[] } };
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(port);
    const users = config.authorization.users;
    expect(users.map((u) => u.user).sort()).toEqual([...BUS_USERS].sort());
    for (const u of users) {
      const want = permissionsFor(u.user as BusUser);
      expect(u.permissions.publish.allow, u.user).toEqual(want.publish.length ? want.publish : ['_crius_nothing_']);
      expect(u.permissions.subscribe.allow, u.user).toEqual(want.subscribe);
      expect(u.permissions.allow_responses !== undefined, u.user).toBe(want.responder);
      const plain = (await readCredential(credDir(), u.user as BusUser)).password;
      expect(u.password, u.user).toMatch(/^\$2[aby]\$10\$/);
      expect(u.password).not.toContain(plain);
    }
  });

  it('is enforced by nats-server: each service may call only what ARCHITECTURE.md allows', async () => {
    nats = spawn('nats-server', ['-c', conf()], { stdio: 'ignore' });
    const ready = spawnSync('node', [path.join(root, 'usr/lib/crius/libexec/crius-ready.mjs'), 'nats', '--config', path.join(root, 'etc/crius/crius.toml'), '--timeout', '10'], { encoding: 'utf8' });
    expect(ready.status, ready.stderr).toBe(0);

    const as = async (user: BusUser) => {
      const cred = await readCredential(credDir(), user);
      const nc = await connect({ servers: `127.0.0.1:${port}`, user, pass: cred.password, inboxPrefix: `_INBOX_${user}`, reconnect: false });
      conns.push(nc);
      return nc;
    };
    const runtime = await as('runtime');
    runtime.subscribe('crius.v1.runtime.Health', { callback: (_err, msg) => msg.respond(new TextEncoder().encode('ok')) });
    await runtime.flush();

    const gateway = await as('gateway');
    expect(new TextDecoder().decode((await gateway.request('crius.v1.runtime.Health', new Uint8Array(), { timeout: 2000 })).data)).toBe('ok');
    // image-svc may call storage only: its request to runtime never arrives.
    const image = await as('image');
    await expect(image.request('crius.v1.runtime.Health', new Uint8Array(), { timeout: 1000 })).rejects.toThrow();
    await expect(connect({ servers: `127.0.0.1:${port}`, user: 'runtime', pass: 'not-the-password', reconnect: false })).rejects.toThrow(/Authorization/i);
  });

  it('installs a program that runs from /usr/lib/crius with its own node_modules', () => {
    const cli = path.join(root, 'usr/lib/crius/services/cli/bin/crius.js');
    const r = spawnSync('node', [cli, '--config', path.join(root, 'etc/crius/crius.toml'), 'config'], { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`address = "127.0.0.1:${port}"`);
  });
});
