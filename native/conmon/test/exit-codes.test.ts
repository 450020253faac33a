// crius-conmon: container lifecycle as runtime-svc sees it — pid on the sync
// pipe, pidfiles, exit file for normal exits and signals, a monitor that
// outlives its caller, and clear refusals of bad arguments.
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_CONMON,
  RUNC,
  TestEnv,
  useTestEnv,
  exists,
  launch,
  monitorBinary,
  pidAlive,
  randomId,
  readIfExists,
  waitFor,
} from './harness.js';

const BIN = monitorBinary();
let env: TestEnv;

useTestEnv((e) => (env = e));

describe('exit codes', () => {
  it.each([
    ['0', ['sh', '-c', 'exit 0']],
    ['1', ['sh', '-c', 'exit 1']],
    ['42', ['sh', '-c', 'exit 42']],
  ])('records exit code %s', async (code, args) => {
    const c = await env.container({ args });
    const { pid, monitorPid } = await env.create(BIN, c);
    expect(Number(await readFile(c.pidfile, 'utf8'))).toBe(pid);
    expect(pidAlive(monitorPid)).toBe(true);
    await env.start(c);
    expect(await env.exitCode(c)).toBe(code);
    expect(await readFile(join(c.persistDir, 'exit'), 'utf8')).toBe(code);
    await waitFor('monitor exit', async () => (pidAlive(monitorPid) ? undefined : true));
    expect(await exists(join(c.bundle, 'oom'))).toBe(false);
  });

  it('records 137 for a container killed with SIGKILL', async () => {
    const c = await env.container({ args: ['sleep', '100'] });
    await env.create(BIN, c);
    await env.start(c);
    await env.runc('kill', c.id, 'KILL');
    expect(await env.exitCode(c)).toBe('137');
  });

  it('records 143 for a container terminated by SIGTERM', async () => {
    // In its own PID namespace the init ignores SIGTERM (no handler), so run
    // it in the host's to let the default action kill it.
    const c = await env.container({ args: ['sleep', '100'], hostPidNamespace: true });
    await env.create(BIN, c);
    await env.start(c);
    await env.runc('kill', c.id, 'TERM');
    expect(await env.exitCode(c)).toBe('143');
  });

  it('writes the exit file atomically: no temp file is left beside it', async () => {
    const c = await env.container({ args: ['sh', '-c', 'exit 5'] });
    await env.create(BIN, c);
    await env.start(c);
    expect(await env.exitCode(c)).toBe('5');
    const names = await readdir(env.exitDir);
    expect(names.filter((n) => n.includes(c.id))).toEqual([c.id]);
  });
});

describe('daemon', () => {
  it('keeps monitoring after its caller and the caller’s process group are killed', async () => {
    const c = await env.container({ args: ['sh', '-c', 'sleep 0.3; exit 7'] });
    // The caller: a shell in its own process group that starts the monitor
    // with the start pipe closed (EOF releases it), then lingers.
    const caller = spawn('sh', ['-c', '"$0" "$@" 4</dev/null; exec sleep 60', BIN, ...env.createArgs(c)], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, _OCI_STARTPIPE: '4', ...env.sanitizerEnv() },
    });
    const monitorPid = Number(
      await waitFor('conmon pidfile', async () => (await readIfExists(c.conmonPidfile)) || undefined),
    );
    env.track(monitorPid);
    await waitFor('container created', async () => ((await readIfExists(c.pidfile)) ? true : undefined));
    process.kill(-caller.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(pidAlive(caller.pid!)).toBe(false);
    expect(pidAlive(monitorPid)).toBe(true);
    // A new session: nothing aimed at the caller's group or session reaches it.
    const stat = (await readFile(`/proc/${monitorPid}/stat`, 'utf8')).split(') ')[1].split(' ');
    expect(Number(stat[2])).not.toBe(caller.pid); // pgid
    expect(Number(stat[3])).not.toBe(caller.pid); // session
    await env.start(c);
    expect(await env.exitCode(c)).toBe('7');
  });

  it('reports the runtime’s error text on the sync pipe when create fails', async () => {
    const c = await env.container({ args: ['sleep', '100'] });
    await env.create(BIN, c); // now the ID is taken
    // Same container ID, its own bundle and attach name.
    const dup = { ...(await env.container({ args: ['true'] })), id: c.id };
    const l = await launch(BIN, env.createArgs(dup, ['-u', randomId('crius-dup')]), { extraEnv: env.sanitizerEnv() });
    env.trackReader(l.sync);
    expect(l.parentExit).toBe(0);
    const msg = await l.sync.next();
    expect(msg.pid).toBe(-1);
    expect(String(msg.message)).toContain('already exists');
    await l.sync.closed();
    const monitorPid = Number(await readFile(dup.conmonPidfile, 'utf8'));
    await waitFor('failed monitor exit', async () => (pidAlive(monitorPid) ? undefined : true));
    await env.runc('kill', c.id, 'KILL');
    expect(await env.exitCode(c)).toBe('137');
  });
});

describe('bad arguments', () => {
  const cases: Array<[string, (b: string, id: string) => string[], RegExp]> = [
    ['no arguments', () => [], /container ID not provided/],
    ['an unknown flag', (b, id) => ['-c', id, '--bogus'], /unknown option '--bogus'/],
    ['a flag without its value', (b, id) => ['-r', RUNC, '-c', id, '-u', id, '-b'], /needs a value/],
    ['no --cuuid', (b, id) => ['-c', id, '-r', RUNC], /container UUID not provided/],
    ['no --runtime', (b, id) => ['-c', id, '-u', id], /runtime path not provided/],
    ['a runtime that does not exist', (b, id) => ['-c', id, '-u', id, '-r', '/nonexistent/runc'], /runtime '\/nonexistent\/runc' is not executable/],
    ['no --log-path', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-b', b], /log path not provided/],
    ['a bundle that does not exist', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-l', '/dev/null', '-b', '/nonexistent/bundle'], /bundle '\/nonexistent\/bundle' is not a directory/],
    ['a bundle without config.json', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-l', '/dev/null', '-b', '/tmp'], /has no config.json/],
    ['a non-numeric timeout', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-T', 'soon'], /--timeout: 'soon' is not an integer/],
    ['--exec without a process spec', (b, id) => ['-c', id, '-r', RUNC, '-e', '-l', '/dev/null'], /exec process spec not provided/],
    ['an unsupported log driver', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-b', b, '-l', 'journald:'], /unsupported log driver/],
    ['a container ID with a slash', (b, id) => ['-c', `../${id}`, '-u', id, '-r', RUNC], /must be a non-empty name without '\/'/],
    ['a stray positional argument', (b, id) => ['-c', id, 'extra'], /unexpected argument 'extra'/],
    ['an unsupported conmon flag', (b, id) => ['-c', id, '--sdnotify-socket', '/x'], /--sdnotify-socket is not supported/],
    ['a restore path that does not exist', (b, id) => ['-c', id, '-u', id, '-r', RUNC, '-b', b, '-l', '/dev/null', '--restore', '/nonexistent/images'], /restore path '\/nonexistent\/images' is not a directory/],
    ['--restore with --exec', (b, id) => ['-c', id, '-r', RUNC, '-e', '--exec-process-spec', `${b}/config.json`, '-l', '/dev/null', '--restore', '/tmp'], /--restore cannot be combined with --exec/],
  ];

  it.each(cases)('refuses %s with a clear message and leaves nothing behind', async (_name, build, expected) => {
    const id = randomId('crius-bad');
    const c = await env.container({ args: ['true'] });
    const args = ['--exit-dir', env.exitDir, '--socket-dir-path', env.socketDir, ...build(c.bundle, id)];
    const l = await launch(BIN, args, { extraEnv: env.sanitizerEnv() });
    env.trackReader(l.sync);
    expect(l.parentExit).not.toBe(0);
    expect(l.stderr).toMatch(/^crius-conmon: /);
    expect(l.stderr).toMatch(expected);
    await l.sync.closed(); // nobody holds the sync pipe: no daemon was left running
    expect(await readdir(env.socketDir)).not.toContain(id);
    expect(await env.runc('list', '-q')).not.toContain(id);
  });

  it('prints its version and help', async () => {
    const v = await launch(BIN, ['--version']);
    const h = await launch(BIN, ['--help']);
    [v, h].forEach((l) => env.trackReader(l.sync));
    expect(v.parentExit).toBe(0);
    expect(h.parentExit).toBe(0);
  });

  it('uses the same flag names as Debian conmon for every flag crius passes', async () => {
    const { execFileSync } = await import('node:child_process');
    const theirs = execFileSync(DEBIAN_CONMON, ['--help'], { encoding: 'utf8' });
    const ours = execFileSync(BIN, ['--help'], { encoding: 'utf8' });
    for (const flag of ['--bundle', '--cid', '--cuuid', '--conmon-pidfile', '--container-pidfile', '--exec',
      '--exec-attach', '--exec-process-spec', '--exit-dir', '--leave-stdin-open', '--log-path', '--log-size-max',
      '--persist-dir', '--runtime', '--runtime-arg', '--socket-dir-path', '--stdin', '--terminal', '--timeout',
      '--api-version', '--sync', '--full-attach', '--name', '--log-level', '--syslog']) {
      expect(theirs).toContain(flag);
      expect(ours).toContain(flag);
    }
  });
});
