// Issue 19: Ctrl-C in the terminal of `npm start` / `crius up --demo` reaches
// the whole foreground process group at once. The stack must still stop in
// order: demo pod removed while the services run, then everything stops, and
// nothing of the demo (pod record, mounts, monitors, service processes) is
// left. The test sends SIGINT to the process group, as a terminal does, with
// a shell in between as `npm start` has.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupHierarchies } from '@crius/common';
import { cleanupHost, makeTestConfig, type TestConfig } from '../harness/stack.js';
import { waitFor } from '../harness/pod.js';

const CLI = path.resolve('services/cli/bin/crius.js');
let t: TestConfig | undefined;
let group: ChildProcess | undefined;

afterEach(async () => {
  if (group?.pid && group.exitCode === null) {
    try {
      process.kill(-group.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (t) await cleanupHost(t.dir, t.bridge);
  t = undefined;
  group = undefined;
});

/** `crius up --demo` under a shell, in a new process group (the terminal's foreground group). */
function startInGroup(cfg: TestConfig): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const cmd = `"${process.execPath}" "${CLI}" --config "${cfg.configPath}" up --demo; echo "launcher exited $?"`;
  const child = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/** Processes whose command line names this stack's directory (services, nats, monitors, containers' runc). */
async function stackProcesses(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmd.includes(dir + '/')) found.push(`${pid}: ${cmd}`);
  }
  return found;
}

async function assertNothingLeft(cfg: TestConfig): Promise<void> {
  expect(await readdir(path.join(cfg.config.state.root, 'runtime', 'sandboxes')).catch(() => [])).toEqual([]);
  // The namespace-pin directories stay bind-mounted by design (they outlive the services); pod mounts must not.
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(cfg.dir + '/') && / (overlay|tmpfs|nsfs|proc) /.test(l));
  expect(mounts).toEqual([]);
  expect(await stackProcesses(cfg.dir)).toEqual([]);
  // The demo's pods live under the cgroup parent /crius-demo, removed with them.
  const left = [];
  for (const root of await cgroupHierarchies()) if (existsSync(path.join(root, 'crius-demo'))) left.push(root);
  expect(left).toEqual([]);
}

describe('issue 19: Ctrl-C to the whole process group', () => {
  it('after the demo is up: removes the demo pod, then stops the stack', async () => {
    t = await makeTestConfig();
    const run = startInGroup(t);
    group = run.child;
    await waitFor('the demo to finish', async () => (run.output().includes('Press Ctrl-C') || run.child.exitCode !== null ? true : undefined), 120_000);
    expect(run.output()).toContain('<h1>Hello from crius</h1>');
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('launcher exited 0');
    await assertNothingLeft(t);
  });

  it('while the demo is still creating its pod: nothing of it is left', async () => {
    t = await makeTestConfig();
    const run = startInGroup(t);
    group = run.child;
    await waitFor('the demo image import', async () => (run.output().includes('Imported') || run.child.exitCode !== null ? true : undefined), 120_000);
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('launcher exited 0');
    await assertNothingLeft(t);
  });

  it('a launcher killed outright takes its services with it', async () => {
    t = await makeTestConfig();
    const up = spawn(process.execPath, [CLI, '--config', t.configPath, 'up'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    group = up;
    let out = '';
    up.stdout!.on('data', (d) => (out += String(d)));
    await waitFor('the stack', async () => (out.includes('crius is up') || up.exitCode !== null ? true : undefined), 60_000);
    expect(await stackProcesses(t.dir)).not.toEqual([]);
    process.kill(up.pid!, 'SIGKILL');
    const dir = t.dir;
    await waitFor('every service to exit', async () => ((await stackProcesses(dir)).length === 0 ? true : undefined), 20_000);
  });
});
