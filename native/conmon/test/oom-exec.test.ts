// crius-conmon: OOM kills recorded as conmon does (oom files), and exec mode:
// ExecSync (log + exit code on the sync pipe), --timeout, runtime errors, a
// terminal exec, and an interactive exec served on its own attach socket.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RUNC,
  TestEnv,
  useTestEnv,
  attachClient,
  exists,
  launch,
  monitorBinary,
  pidAlive,
  randomId,
  readIfExists,
  readLog,
  streamBytes,
  type Container,
} from './harness.js';

const BIN = monitorBinary();
let env: TestEnv;
let running: Container;

useTestEnv((e) => (env = e));

beforeAll(async () => {
  running = await env.container({ args: ['sleep', '1000'] });
  await env.create(BIN, running);
  await env.start(running);
});

describe('OOM', () => {
  it('records an OOM kill under a small memory limit in the bundle and persist dir', async () => {
    const c = await env.container({
      args: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
      memoryLimit: 16 * 1024 * 1024,
    });
    await env.create(BIN, c);
    await env.start(c);
    expect(await env.exitCode(c)).toBe('137');
    expect(await exists(join(c.bundle, 'oom'))).toBe(true);
    expect(await exists(join(c.persistDir, 'oom'))).toBe(true);
  });
});

interface ExecSpec {
  args: string[];
  terminal?: boolean;
}

async function writeSpec(spec: ExecSpec): Promise<string> {
  const dir = join(env.root, randomId('exec'));
  await mkdir(dir);
  const path = join(dir, 'process.json');
  const process = { args: spec.args, cwd: '/', env: ['PATH=/bin', 'TERM=xterm'], user: { uid: 0, gid: 0 }, terminal: !!spec.terminal };
  await writeFile(path, JSON.stringify(process));
  return path;
}

/** ExecSync as CRI-O runs it through conmon: legacy API, output to a log file. */
async function execSync(spec: ExecSpec, extra: string[] = []) {
  const specPath = await writeSpec(spec);
  const dir = join(specPath, '..');
  const log = join(dir, 'exec.log');
  const pidfile = join(dir, 'exec.pid');
  const args = [
    '-c', running.id, '-n', running.id, '-r', RUNC, '--runtime-arg', `--root=${env.runcRoot}`,
    '-p', pidfile, '-e', '-l', log, '--exec-process-spec', specPath, '--socket-dir-path', env.socketDir,
    ...(spec.terminal ? ['-t'] : []), ...extra,
  ];
  const started = Date.now();
  const l = await launch(BIN, args, { extraEnv: env.sanitizerEnv() });
  env.trackReader(l.sync);
  expect(l.parentExit).toBe(0);
  const result = await l.sync.next();
  const elapsed = Date.now() - started;
  await l.sync.closed();
  const records = (await exists(log)) ? await readLog(log) : [];
  return { result, elapsed, records, pidfile };
}

describe('exec', () => {
  it('reports the exit code and logs both streams', async () => {
    const { result, records } = await execSync({ args: ['sh', '-c', 'echo out; echo err >&2; exit 7'] });
    expect(result).toEqual({ exit_code: 7 });
    expect(streamBytes(records, 'stdout').toString()).toBe('out\n');
    expect(streamBytes(records, 'stderr').toString()).toBe('err\n');
  });

  it('kills the process after --timeout and says so', async () => {
    const { result, elapsed, records, pidfile } = await execSync({ args: ['sh', '-c', 'echo before; sleep 30'] }, ['-T', '1']);
    expect(result).toEqual({ exit_code: -1, message: 'command timed out' });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
    expect(streamBytes(records, 'stdout').toString()).toBe('before\n');
    const pid = Number(await readIfExists(pidfile));
    expect(pid).toBeGreaterThan(0);
    expect(pidAlive(pid)).toBe(false);
  });

  it('passes the runtime’s error text back when the exec cannot start', async () => {
    const { result } = await execSync({ args: ['/nonexistent'] });
    expect(result.exit_code).toBe(-1);
    expect(String(result.message)).toContain('/nonexistent');
  });

  it('runs with a terminal when asked', async () => {
    const { result, records } = await execSync({ args: ['sh', '-c', 'tty; echo hi'], terminal: true });
    expect(result).toEqual({ exit_code: 0 });
    expect(streamBytes(records, 'stdout').toString()).toMatch(/^\/dev\/pts\/\d+\r\nhi\r\n$/);
  });

  it('serves an interactive exec on its own attach socket (--exec-attach, API 1)', async () => {
    const specPath = await writeSpec({ args: ['sh'], terminal: true });
    const execDir = join(specPath, '..');
    const execId = randomId('exec-session');
    const args = [
      '-c', running.id, '-u', execId, '-n', running.id, '-r', RUNC, '--runtime-arg', `--root=${env.runcRoot}`,
      '-b', execDir, '-p', join(execDir, 'exec.pid'), '-e', '--exec-attach', '--api-version', '1',
      '-l', join(execDir, 'exec.log'), '--exec-process-spec', specPath, '--socket-dir-path', env.socketDir,
      '-t', '-i',
    ];
    const l = await launch(BIN, args, { attachPipe: true, extraEnv: env.sanitizerEnv() });
    env.trackReader(l.sync);
    env.trackReader(l.attach!);
    expect(l.parentExit).toBe(0);
    expect(await l.attach!.next()).toEqual({ data: 0 });
    const client = attachClient(join(env.socketDir, execId, 'attach'));
    l.release();
    const pidMsg = await l.sync.next();
    expect(Number(pidMsg.data)).toBeGreaterThan(0);
    client.proc.stdin!.write('echo from-exec\nexit 3\n');
    expect(await l.sync.next()).toEqual({ data: 3 });
    const res = await client.done;
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('from-exec\r\n');
    client.proc.stdin!.destroy();
  });
});
