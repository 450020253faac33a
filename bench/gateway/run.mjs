// bench/gateway: CRI round trip through crius (gateway → NATS → service)
// versus a direct grpc-js server doing the same work in its own process, same run,
// plus the bare NATS round trip on this machine (the floor any bus hop pays).
// Run after `npm run build`:  node bench/gateway/run.mjs [calls]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { connect } from 'nats';
import { parseConfig, createLogger, connectBus, credentialsDir } from '@crius/common';
import { HealthRequest } from '@crius/common/proto/health';
import { RuntimeServiceService, RuntimeServiceClient } from '@crius/common/cri-grpc';
import { Stack } from '../../services/cli/dist/launcher/stack.js';
import { Runtime } from '../../services/runtime-svc/dist/runtime.js';
import { summarize, timeCalls, fmt } from '../lib.mjs';

const N = Number(process.argv[2] ?? 3000);
const natsModule = import.meta.resolve('nats');
const WARMUP = 300;

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function promisify(client, method) {
  return (req) =>
    new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r))));
}

/**
 * Calls alternate between the two endpoints (direct, crius, direct, ...) so both see the
 * same machine: on a 2-core VM the background changes faster than a block of 3000 calls.
 */
async function measurePair(direct, crius) {
  const clients = [direct, crius].map((socket) => new RuntimeServiceClient(`unix://${socket}`, credentials.createInsecure()));
  const calls = clients.map((c) => ({ Version: promisify(c, 'version'), ListContainers: promisify(c, 'listContainers') }));
  const args = { Version: { version: 'v1' }, ListContainers: {} };
  const out = { direct: {}, crius: {} };
  for (const method of ['Version', 'ListContainers']) {
    const samples = [[], []];
    for (let i = 0; i < WARMUP + N; i++) {
      for (const side of [0, 1]) {
        const t = process.hrtime.bigint();
        await calls[side][method](args[method]);
        if (i >= WARMUP) samples[side].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    out.direct[method] = summarize(samples[0]);
    out.crius[method] = summarize(samples[1]);
  }
  clients.forEach((c) => c.close());
  return out;
}

/** The bus alone: a request/reply to runtime-svc's Health over the stack's nats-server. */
async function busFloor(config) {
  const nc = await connectBus({ address: config.bus.address, user: 'launcher', credentialsDir: credentialsDir(config), reconnect: false });
  const payload = HealthRequest.encode({}).finish();
  const call = () => nc.request('crius.v1.runtime.Health', payload, { timeout: 5000 });
  await timeCalls(WARMUP, call);
  const s = summarize(await timeCalls(N, call));
  await nc.close();
  return s;
}

/** Bare NATS between two processes: a private nats-server and an echo responder in a child process. */
async function bareNatsFloor(dir) {
  const port = await freePort();
  const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const responderFile = path.join(dir, 'echo.mjs');
  await writeFile(responderFile, `import { connect } from ${JSON.stringify(natsModule)};\nconst nc = await connect({ servers: '127.0.0.1:${port}' });\nnc.subscribe('echo', { callback: (_e, m) => m.respond(m.data) });\nawait nc.flush();\nprocess.stdout.write('ready\\n');\n`);
  let responder;
  try {
    for (let i = 0; i < 50 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
    responder = spawn(process.execPath, [responderFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      responder.stdout.once('data', resolve);
      responder.once('exit', (code) => reject(new Error(`echo responder exited ${code}`)));
    });
    const nc = await connect({ servers: `127.0.0.1:${port}` });
    const payload = new Uint8Array(16);
    const call = () => nc.request('echo', payload, { timeout: 5000 });
    await timeCalls(WARMUP, call);
    const s = summarize(await timeCalls(N, call));
    await nc.close();
    return s;
  } finally {
    responder?.kill();
    server.kill();
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => (sock.destroy(), resolve(true)));
    sock.on('error', () => resolve(false));
  });
}

/**
 * The baseline: a grpc-js server answering from the same Runtime code, in its own process
 * (as every CRI runtime is to its kubelet), so both sides pay the cross-process hop.
 */
async function directServer(dir) {
  const socket = path.join(dir, 'direct.sock');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--direct-server', dir, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`direct server exited ${code}`)));
  });
  return { stop: () => child.kill(), socket };
}

async function serveDirect(dir, socket) {
  const rt = new Runtime({ config: parseConfig(''), log: createLogger('bench', 'silent'), bus: undefined, os: undefined, dirs: { state: path.join(dir, 'direct-state'), run: path.join(dir, 'direct-run') } });
  await rt.load();
  const server = new Server();
  server.addService(RuntimeServiceService, {
    version: (_call, cb) => cb(null, { version: '0.1.0', runtimeName: 'direct', runtimeVersion: '0', runtimeApiVersion: 'v1' }),
    listContainers: (call, cb) => cb(null, { containers: rt.listContainers(call.request.filter) }),
  });
  await new Promise((res, rej) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  process.stdout.write('ready\n');
}

if (process.argv[2] === '--direct-server') {
  await serveDirect(process.argv[3], process.argv[4]);
  await new Promise(() => {}); // serve until killed
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-bench-'));
const port = await freePort();
const toml = `[log]\nlevel = "warn"\n[state]\nroot = "${dir}/lib"\nrun_root = "${dir}/run"\n[api]\nlisten = "${dir}/run/crius.sock"\n[bus]\naddress = "127.0.0.1:${port}"\n`;
const configPath = path.join(dir, 'crius.toml');
await writeFile(configPath, toml);
const config = parseConfig(toml);
const stack = new Stack({ config, configPath });
let direct;
try {
  await stack.start();
  direct = await directServer(dir);
  const pair = await measurePair(direct.socket, config.api.listen);
  const bus = await busFloor(config);
  const bare = await bareNatsFloor(dir);
  console.log(`bench/gateway: ${N} calls per endpoint and method after ${WARMUP} warm-up calls, alternating direct and crius call by call`);
  const label = { direct: 'direct grpc-js', crius: 'crius (gateway→NATS→runtime-svc)' };
  for (const method of ['Version', 'ListContainers']) {
    const b = pair.direct[method];
    const o = pair.crius[method];
    console.log(`${method}`);
    console.log(`  ${label.direct.padEnd(36)} p50 ${fmt(b.p50)}  p99 ${fmt(b.p99)}`);
    console.log(`  ${label.crius.padEnd(36)} p50 ${fmt(o.p50)}  p99 ${fmt(o.p99)}`);
    console.log(`  added p50 ${fmt(o.p50 - b.p50)}  ratio p50 ${(o.p50 / b.p50).toFixed(2)}x  p99 ${(o.p99 / b.p99).toFixed(2)}x`);
  }
  console.log('The bus hop alone (same run):');
  console.log(`  ${'NATS request/reply, two processes'.padEnd(36)} p50 ${fmt(bare.p50)}  p99 ${fmt(bare.p99)}  (private nats-server, no auth, echo responder)`);
  console.log(`  ${'runtime-svc Health over crius bus'.padEnd(36)} p50 ${fmt(bus.p50)}  p99 ${fmt(bus.p99)}  (stack nats-server with per-user permissions)`);
  const added = pair.crius.ListContainers.p50 - pair.direct.ListContainers.p50;
  console.log(`  ListContainers added p50 minus the crius bus round trip: ${fmt(added - bus.p50)} (the gateway's own cost)`);
} finally {
  direct?.stop();
  await stack.stop();
  // The stack leaves its namespace-pin bind mounts (they outlive services by design).
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir + '/'));
  for (const m of mounts.sort().reverse()) execFileSync('umount', ['-l', m]);
  await rm(dir, { recursive: true, force: true });
}
