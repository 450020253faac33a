// The README quick start's demo, executed: `crius up --demo` brings the
// stack up, runs a busybox httpd pod from an image it imports itself,
// fetches its page and prints it; `crius down` stops everything and the
// demo pod is gone.
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupHost, makeTestConfig, type TestConfig } from '../harness/stack.js';
import { waitFor } from '../harness/pod.js';

const CLI = path.resolve('services/cli/bin/crius.js');
let t: TestConfig | undefined;

afterAll(async () => {
  if (t) await cleanupHost(t.dir, t.bridge);
});

describe('crius up --demo', () => {
  it('shows the stack working end to end, then stops cleanly', async () => {
    t = await makeTestConfig();
    const up = spawn(process.execPath, [CLI, '--config', t.configPath, 'up', '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    up.stdout.on('data', (d) => (out += String(d)));
    up.stderr.on('data', (d) => (err += String(d)));
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
    try {
      await waitFor('the demo page', async () => (out.includes('Press Ctrl-C') || up.exitCode !== null ? true : undefined), 120_000);
      expect(up.exitCode, err + out).toBeNull();
      expect(out).toMatch(/Version: crius \S+ \(CRI v1\)/);
      expect(out).toMatch(/RuntimeReady\s+true/);
      expect(out).toMatch(/NetworkReady\s+true/);
      expect(out).toMatch(/runs busybox httpd at http:\/\/10\.89\.\d+\.\d+\//);
      expect(out).toContain('<h1>Hello from crius</h1>');
    } finally {
      const down = spawn(process.execPath, [CLI, '--config', t.configPath, 'down'], { stdio: 'ignore' });
      await new Promise((r) => down.once('exit', r));
      if (up.exitCode === null) up.kill('SIGKILL');
    }
    expect(await exited).toBe(0);
    // The demo pod was removed before the stack stopped.
    expect(await readdir(path.join(t.config.state.root, 'runtime', 'sandboxes')).catch(() => [])).toEqual([]);
    const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(t!.dir) && / (overlay|tmpfs|nsfs) /.test(l));
    expect(mounts).toEqual([]);
  });
});
