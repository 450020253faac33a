#!/usr/bin/env node
// Monitor overhead benchmark: N idle busybox containers (`sleep`) each under
// crius-conmon and each under Debian's conmon, in one interleaved run.
// Reports per-monitor VmRSS (/proc/<pid>/status) and start latency (spawn ->
// pid reported on the sync pipe): p50 and p90 for each, and their ratio.
// Needs root, runc, /usr/bin/conmon and /bin/busybox. Cleans up everything.
//   node bench/conmon/run.mjs [--count 50] [--json]
import { execFile, execFileSync, spawn } from 'node:child_process';
import { copyFile, chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONMON_DIR = join(REPO, 'native', 'conmon');
const RUNC = '/usr/sbin/runc';
const args = process.argv.slice(2);
const COUNT = Number(args[args.indexOf('--count') + 1] || 50) || 50;
const MONITORS = {
  'crius-conmon': process.env.CRIUS_CONMON_BIN ? resolve(process.env.CRIUS_CONMON_BIN) : join(CONMON_DIR, 'build', 'crius-conmon'),
  'debian-conmon': '/usr/bin/conmon',
};

const root = await mkdtemp(join(tmpdir(), 'crius-conmon-bench-'));
const runcRoot = join(root, 'runc');
const started = []; // { id, monitorPid }
let cleaning = false;

async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  await Promise.all(
    started.map(({ id }) => execFileP(RUNC, [`--root=${runcRoot}`, 'delete', '-f', id]).catch(() => undefined)),
  );
  for (const { monitorPid } of started) {
    try {
      process.kill(monitorPid, 'SIGKILL'); // normally gone already: its container was deleted
    } catch {
      /* exited */
    }
  }
  await rm(root, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

/** One shared read-only busybox rootfs; each bundle only has a config.json. */
async function makeRootfs() {
  const bin = join(root, 'rootfs', 'bin');
  await mkdir(bin, { recursive: true });
  await copyFile('/bin/busybox', join(bin, 'busybox'));
  await chmod(join(bin, 'busybox'), 0o755);
  await Promise.all(['sh', 'sleep'].map((a) => symlink('busybox', join(bin, a))));
  const specDir = join(root, 'spec');
  await mkdir(specDir);
  await execFileP(RUNC, ['spec', '--bundle', specDir]);
  const spec = JSON.parse(await readFile(join(specDir, 'config.json'), 'utf8'));
  spec.process.args = ['sleep', '100000'];
  spec.process.terminal = false;
  spec.root = { path: join(root, 'rootfs'), readonly: true };
  delete spec.process.oomScoreAdj; // root lacks CAP_SYS_RESOURCE here
  return spec;
}

/** Starts one monitor like runtime-svc does; resolves at the sync pipe's pid message. */
function startMonitor(bin, id, dir) {
  const argv = [
    '-c', id, '-u', id, '-n', id, '-r', RUNC, '--runtime-arg', `--root=${runcRoot}`,
    '-b', dir, '-p', join(dir, 'pidfile'), '-P', join(dir, 'conmon.pid'), '-l', join(dir, 'ctr.log'),
    '--exit-dir', join(root, 'exits'), '--socket-dir-path', join(root, 'socks'), '--persist-dir', dir,
  ];
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(bin, argv, {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
    });
    child.stdio.forEach((s) => s?.on('error', () => undefined));
    child.stdio[4].end(Buffer.from([0]));
    let buf = '';
    child.stdio[3].setEncoding('utf8');
    child.stdio[3].on('data', (d) => {
      buf += d;
      if (!buf.includes('\n')) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      child.stdio[3].destroy();
      const msg = JSON.parse(buf.slice(0, buf.indexOf('\n')));
      if (!(msg.pid > 0)) rej(new Error(`${bin} ${id}: ${JSON.stringify(msg)}`));
      else res(ms);
    });
    child.stdio[3].on('end', () => rej(new Error(`${bin} ${id}: sync pipe closed without a pid`)));
  });
}

async function vmRss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  execFileSync('make', ['-s', '-C', CONMON_DIR], { stdio: 'inherit' });
  await Promise.all(['runc', 'exits', 'socks'].map((d) => mkdir(join(root, d))));
  const spec = await makeRootfs();
  const results = Object.fromEntries(Object.keys(MONITORS).map((k) => [k, { latency: [], rss: [], pids: [] }]));
  // Interleaved, so both monitors see the same machine state.
  for (let i = 0; i < COUNT; i++) {
    for (const [name, bin] of Object.entries(MONITORS)) {
      const id = `crius-bench-${name.split('-')[0]}-${i}-${Math.random().toString(16).slice(2, 8)}`;
      const dir = join(root, id);
      await mkdir(dir);
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
      const ms = await startMonitor(bin, id, dir);
      const monitorPid = Number(await readFile(join(dir, 'conmon.pid'), 'utf8'));
      started.push({ id, monitorPid });
      await execFileP(RUNC, [`--root=${runcRoot}`, 'start', id]);
      results[name].latency.push(ms);
      results[name].pids.push(monitorPid);
    }
  }
  await new Promise((r) => setTimeout(r, 1000)); // idle: let every monitor settle
  for (const r of Object.values(results)) r.rss = await Promise.all(r.pids.map(vmRss));

  const summary = {};
  for (const [name, r] of Object.entries(results)) {
    summary[name] = {
      containers: r.pids.length,
      rss_kib_p50: pct(r.rss, 50),
      rss_kib_max: Math.max(...r.rss),
      start_ms_p50: Number(pct(r.latency, 50).toFixed(1)),
      start_ms_p90: Number(pct(r.latency, 90).toFixed(1)),
    };
  }
  const a = summary['crius-conmon'];
  const b = summary['debian-conmon'];
  console.log(`idle containers per monitor: ${COUNT}`);
  console.log('monitor          RSS p50 (KiB)  RSS max  start p50 (ms)  start p90 (ms)');
  for (const [name, s] of Object.entries(summary)) {
    console.log(
      `${name.padEnd(16)} ${String(s.rss_kib_p50).padStart(13)}  ${String(s.rss_kib_max).padStart(7)}  ${String(s.start_ms_p50).padStart(14)}  ${String(s.start_ms_p90).padStart(14)}`,
    );
  }
  const ratio = {
    rss_p50: Number((a.rss_kib_p50 / b.rss_kib_p50).toFixed(2)),
    start_p50: Number((a.start_ms_p50 / b.start_ms_p50).toFixed(2)),
  };
  console.log(`ratio crius/debian: RSS ${ratio.rss_p50}, start latency ${ratio.start_p50}`);
  if (args.includes('--json')) console.log(JSON.stringify({ count: COUNT, summary, ratio }));
}

try {
  await main();
} finally {
  await cleanup();
}
