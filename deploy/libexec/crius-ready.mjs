#!/usr/bin/env node
// Readiness probe of the crius systemd units, run as ExecStartPost=+ so a unit
// counts as started only once it serves (our services are Node: no sd_notify).
// Owner: deploy/. Exits 0 when ready, 1 on timeout, naming what it waited for.
//   nats     the bus port accepts TCP connections
//   gateway  the CRI socket accepts a connection; then it is chowned root:crius
//   <svc>    the service answers Health on the bus (asked as the launcher user)
// With --pid (the unit's $MAINPID) it gives up as soon as that process is gone,
// so a service that dies while starting fails its unit at once.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BusClient, SERVICES, connectBus, credentialsDir, loadConfig } from '@crius/common';
import { HealthRequest, HealthResponse } from '@crius/common/proto/health';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { config: { type: 'string' }, timeout: { type: 'string', default: '80' }, pid: { type: 'string' } },
});
const target = positionals[0] ?? '';
const config = loadConfig(values.config ?? '/etc/crius/crius.toml');
const deadline = Date.now() + Number(values.timeout) * 1000;
const mainPid = values.pid ? Number(values.pid) : undefined;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function busAddress() {
  const i = config.bus.address.lastIndexOf(':');
  return { host: config.bus.address.slice(0, i), port: Number(config.bus.address.slice(i + 1)) };
}

function canConnect(opts) {
  return new Promise((resolve) => {
    const sock = net.connect(opts);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function waitFor(what, check) {
  let last = '';
  for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 500)) {
    if (mainPid !== undefined && !alive(mainPid)) {
      process.stderr.write(`crius-ready: process ${mainPid} exited while waiting for ${what}\n`);
      process.exit(1);
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = `: ${err.message}`;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  process.stderr.write(`crius-ready: timed out waiting for ${what}${last}\n`);
  process.exit(1);
}

function groupId(name) {
  try {
    return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    return undefined;
  }
}

async function busHealth(service) {
  const address = config.bus.address;
  await waitFor(`nats-server on ${address}`, () => canConnect(busAddress()));
  const nc = await connectBus({ address, user: 'launcher', credentialsDir: credentialsDir(config), reconnect: false, name: 'crius-ready' });
  try {
    const bus = new BusClient(nc);
    await waitFor(`${service}-svc Health on the bus`, async () => {
      const h = await bus.call(service, 'Health', HealthRequest, HealthResponse, {}, { deadline: Date.now() + 1000 });
      return h.ready === true;
    });
  } finally {
    await nc.close();
  }
}

if (target === 'nats') {
  await waitFor(`nats-server on ${config.bus.address}`, () => canConnect(busAddress()));
} else if (target === 'gateway') {
  const socket = config.api.listen;
  await waitFor(`the CRI socket ${socket}`, () => canConnect({ path: socket }));
  // Owned by root so the unprivileged gateway cannot widen its mode later.
  const gid = groupId(config.api.socket_group || 'crius');
  if (process.getuid?.() === 0 && gid !== undefined) await chown(socket, 0, gid);
} else if (SERVICES.includes(target)) {
  await busHealth(target);
} else {
  process.stderr.write(`usage: crius-ready.mjs nats|gateway|${SERVICES.join('|')} [--config FILE] [--timeout SEC] [--pid PID]\n`);
  process.exit(2);
}
