// The production bus config `crius install` writes from the real build,
// checked by what a real nats-server does with it: every bus user connects
// with its own installed seed and gets its granted calls through and the
// rest refused (the server's permission violation, never a timeout); the
// config holds public keys only; each seed file is 0600 and its service's
// account's; a seed the config does not hold is refused at connect; a
// service started with another service's seed has only that service's
// rights. The installed program runs from /usr/lib/crius with its own
// node_modules.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUS_USERS, GRANTS, connectBus, newCredential, readCredential, type BusUser, type ServiceName } from '@crius/common';
import { install } from '../../services/cli/src/commands/install.js';
import { REPO } from './unit-file.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const IDS = { 'crius-nats': 991, 'crius-gateway': 992, 'crius-image': 993 };
/** The account each bus user's process runs as in the installed units. */
const ACCOUNT: Record<BusUser, number> = { gateway: 992, image: 993, storage: 0, runtime: 0, network: 0, monitor: 0, launcher: 0, observer: 0 };

describe('production bus config from crius install, enforced by nats-server', () => {
  let root: string;
  let port: number;
  let nats: ChildProcess | undefined;
  const conns: NatsConnection[] = [];
  const conf = () => path.join(root, 'etc/crius/nats/nats-server.conf');
  const credDir = () => path.join(root, 'etc/crius/bus');
  const address = () => `127.0.0.1:${port}`;
  const as = async (user: BusUser, dir = credDir()) => {
    const nc = await connectBus({ address: address(), user, credentialsDir: dir, reconnect: false });
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    if (!existsSync(path.join(REPO, 'services/runtime-svc/dist/main.js'))) throw new Error('this test installs the real build: run `npm run build` first');
    root = mkdtempSync(path.join(os.tmpdir(), 'crius-natsconf-'));
    port = await freePort();
    mkdirSync(path.join(root, 'etc/crius'), { recursive: true });
    writeFileSync(path.join(root, 'etc/passwd'), `root:x:0:0::/root:/bin/sh\n${Object.entries(IDS).map(([n, id]) => `${n}:x:${id}:${id}::/:/x`).join('\n')}\n`);
    writeFileSync(path.join(root, 'etc/group'), `root:x:0:\n${Object.entries(IDS).map(([n, id]) => `${n}:x:${id}:`).join('\n')}\ncrius:x:994:\n`);
    // An existing config is kept by install: the bus goes on a free port.
    writeFileSync(path.join(root, 'etc/crius/crius.toml'), `[bus]\naddress = "127.0.0.1:${port}"\ncredentials_dir = "/etc/crius/bus"\n`);
    await install({ root, createUsers: false, systemctl: false });
    nats = spawn('nats-server', ['-c', conf()], { stdio: 'ignore' });
    const ready = spawnSync('node', [path.join(root, 'usr/lib/crius/libexec/crius-ready.mjs'), 'nats', '--config', path.join(root, 'etc/crius/crius.toml'), '--timeout', '10'], { encoding: 'utf8' });
    expect(ready.status, ready.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    if (nats?.pid) {
      const gone = new Promise((r) => nats!.once('exit', r));
      process.kill(nats.pid, 'SIGTERM');
      await gone;
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('holds public keys only: no seed, no password, one key per bus user', async () => {
    const text = readFileSync(conf(), 'utf8');
    expect(text).not.toMatch(/password|\bpass\b|SU[A-Z2-7]{56}/i);
    const keys = [...text.matchAll(/"nkey":"(U[A-Z2-7]{55})"/g)].map((m) => m[1]).sort();
    const wanted = (await Promise.all(BUS_USERS.map((u) => readCredential(credDir(), u)))).map((c) => c.publicKey).sort();
    expect(keys).toEqual(wanted);
    for (const c of await Promise.all(BUS_USERS.map((u) => readCredential(credDir(), u)))) expect(text).not.toContain(c.seed);
  });

  it("keeps each seed file 0600 and owned by its service's account, and nothing else in the directory", () => {
    expect(readdirSync(credDir()).sort()).toEqual(BUS_USERS.map((u) => `${u}.nk`).sort());
    for (const u of BUS_USERS) {
      const st = statSync(path.join(credDir(), `${u}.nk`));
      expect(`${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid}`, u).toBe(`600 ${ACCOUNT[u]}:${ACCOUNT[u]}`);
    }
  });

  it('lets every bus user connect with its seed, make its granted calls and be refused the rest', async () => {
    const conn = new Map<BusUser, NatsConnection>();
    for (const u of BUS_USERS) conn.set(u, await as(u));
    // Each service answers its methods, in its queue group, with its name.
    for (const s of ['image', 'storage', 'runtime', 'network', 'monitor'] as const) {
      conn.get(s)!.subscribe(`crius.v1.${s}.*`, { queue: s, callback: (_e, m) => m.respond(new TextEncoder().encode(s)) });
      await conn.get(s)!.flush();
    }
    for (const u of BUS_USERS) {
      for (const [svc, methods] of Object.entries(GRANTS[u].calls) as [ServiceName, readonly string[]][]) {
        const reply = await conn.get(u)!.request(`crius.v1.${svc}.${methods[0]}`, new Uint8Array(), { timeout: 10_000 });
        expect(new TextDecoder().decode(reply.data), `${u} → ${svc}.${methods[0]}`).toBe(svc);
      }
      // Removing a container's rootfs is runtime-svc's alone.
      if (u === 'runtime') continue;
      const err = await conn.get(u)!.request('crius.v1.storage.RemoveRootfs', new Uint8Array(), { timeout: 10_000 }).catch((e: unknown) => e);
      expect((err as { code?: string }).code, u).toBe(ErrorCode.PermissionsViolation);
      expect((err as Error).message).toContain('Permissions Violation for Publish to "crius.v1.storage.RemoveRootfs"');
    }
  });

  it('refuses a seed the config does not hold', async () => {
    const stranger = newCredential('runtime');
    const err = await connect({ servers: address(), authenticator: nkeyAuthenticator(new TextEncoder().encode(stranger.seed)), reconnect: false }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe(ErrorCode.AuthorizationViolation);
  });

  it("gives a process holding monitor-svc's seed monitor-svc's rights, whatever user it says it is", async () => {
    const dir = mkdtempSync(path.join(root, 'swapped-'));
    copyFileSync(path.join(credDir(), 'monitor.nk'), path.join(dir, 'runtime.nk'));
    const fake = await as('runtime', dir);
    const refusedSub = (subject: string, queue?: string) =>
      new Promise<Error>((resolve, reject) => fake.subscribe(subject, { ...(queue ? { queue } : {}), callback: (e) => (e ? resolve(e) : reject(new Error(`${subject} delivered`))) }));
    // It can neither take runtime-svc's requests nor read runtime-svc's replies.
    for (const err of [await refusedSub('crius.v1.runtime.CreateContainer', 'runtime'), await refusedSub('_INBOX_runtime.x')]) {
      expect((err as { code?: string }).code).toBe(ErrorCode.PermissionsViolation);
    }
    // Under monitor-svc's own inbox it has monitor-svc's calls, and only those.
    const seed = readFileSync(path.join(dir, 'runtime.nk'), 'utf8').trim();
    const asMonitor = await connect({ servers: address(), authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), inboxPrefix: '_INBOX_monitor', reconnect: false });
    conns.push(asMonitor);
    const err = await asMonitor.request('crius.v1.storage.CreateRootfs', new Uint8Array(), { timeout: 10_000 }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe(ErrorCode.PermissionsViolation);
    expect((err as Error).message).toContain('Publish to "crius.v1.storage.CreateRootfs"');
    expect(new TextDecoder().decode((await asMonitor.request('crius.v1.runtime.RecordExit', new Uint8Array(), { timeout: 10_000 })).data)).toBe('runtime');
  });

  it("stops a storage-svc started with image-svc's seed: it may not serve storage-svc's methods", async () => {
    const dir = mkdtempSync(path.join(root, 'storage-as-image-'));
    mkdirSync(path.join(dir, 'bus'), { mode: 0o700 });
    copyFileSync(path.join(credDir(), 'image.nk'), path.join(dir, 'bus/storage.nk'));
    const toml = path.join(dir, 'crius.toml');
    writeFileSync(toml, `[state]\nroot = "${dir}/lib"\nrun_root = "${dir}/run"\n[bus]\naddress = "${address()}"\ncredentials_dir = "${dir}/bus"\n`);
    const child = spawn(process.execPath, [path.join(REPO, 'services/storage-svc/dist/main.js'), '--config', toml], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000); // a bound, not a synchronisation
      child.once('exit', (c) => (clearTimeout(t), resolve(c)));
    });
    expect(code, out).toBe(1);
    expect(out).toContain('Permissions Violation for Subscription to \\"crius.v1.storage.');
    expect(out).toContain('stopped serving its bus methods');
  });

  it('installs a program that runs from /usr/lib/crius with its own node_modules', () => {
    const cli = path.join(root, 'usr/lib/crius/services/cli/bin/crius.js');
    const r = spawnSync('node', [cli, '--config', path.join(root, 'etc/crius/crius.toml'), 'config'], { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`address = "127.0.0.1:${port}"`);
  });
});
