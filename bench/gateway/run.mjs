// bench/gateway: CRI round trip through crius (gateway → NATS → service)
// versus a direct grpc-js server doing the same work in-process, same run.
// Run after `npm run build`:  node bench/gateway/run.mjs [calls]
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { parseConfig, createLogger } from '@crius/common';
import { RuntimeServiceService, RuntimeServiceClient } from '@crius/common/cri';
import { Stack } from '../../services/cli/dist/launcher/stack.js';
import { Runtime } from '../../services/runtime-svc/dist/runtime.js';
import { summarize, timeCalls, fmt } from '../lib.mjs';

const N = Number(process.argv[2] ?? 3000);
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

async function measure(label, socket) {
  const client = new RuntimeServiceClient(`unix://${socket}`, credentials.createInsecure());
  const version = promisify(client, 'version');
  const list = promisify(client, 'listContainers');
  await timeCalls(WARMUP, () => version({ version: 'v1' }));
  await timeCalls(WARMUP, () => list({}));
  const v = summarize(await timeCalls(N, () => version({ version: 'v1' })));
  const l = summarize(await timeCalls(N, () => list({})));
  client.close();
  return { label, Version: v, ListContainers: l };
}

async function directServer(dir) {
  const rt = new Runtime({ config: parseConfig(''), log: createLogger('bench', 'silent'), bus: undefined, os: undefined, dirs: { state: path.join(dir, 'direct-state'), run: path.join(dir, 'direct-run') } });
  await rt.load();
  const server = new Server();
  server.addService(RuntimeServiceService, {
    version: (_call, cb) => cb(null, { version: '0.1.0', runtimeName: 'direct', runtimeVersion: '0', runtimeApiVersion: 'v1' }),
    listContainers: (call, cb) => cb(null, { containers: rt.listContainers(call.request.filter) }),
  });
  const socket = path.join(dir, 'direct.sock');
  await new Promise((res, rej) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  return { server, socket };
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
  const base = await measure('direct grpc-js', direct.socket);
  const ours = await measure('crius (gateway→NATS→runtime-svc)', config.api.listen);
  console.log(`bench/gateway: ${N} sequential calls each, after ${WARMUP} warm-up calls`);
  for (const method of ['Version', 'ListContainers']) {
    const b = base[method];
    const o = ours[method];
    console.log(`${method}`);
    console.log(`  ${base.label.padEnd(36)} p50 ${fmt(b.p50)}  p99 ${fmt(b.p99)}`);
    console.log(`  ${ours.label.padEnd(36)} p50 ${fmt(o.p50)}  p99 ${fmt(o.p99)}`);
    console.log(`  added p50 ${fmt(o.p50 - b.p50)}  ratio p50 ${(o.p50 / b.p50).toFixed(2)}x  p99 ${(o.p99 / b.p99).toFixed(2)}x`);
  }
} finally {
  direct?.server.forceShutdown();
  await stack.stop();
  // The stack leaves its namespace-pin bind mounts (they outlive services by design).
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir + '/'));
  for (const m of mounts.sort().reverse()) execFileSync('umount', ['-l', m]);
  await rm(dir, { recursive: true, force: true });
}
