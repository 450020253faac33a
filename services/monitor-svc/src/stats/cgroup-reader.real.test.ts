// Real test of cgroup-reader: a busy loop in a fresh v1 cgroup on this machine.
// Creates /sys/fs/cgroup/{cpu,cpuacct,memory,pids}/crius-stats-test-<rand>; removes them after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupVersion } from '@crius/common';
import { createCgroupReader } from './cgroup-reader.js';
import { parseFlatKeyed } from './cgroup-parse.js';

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'];
const name = `crius-stats-test-${randomBytes(4).toString('hex')}`;
const dirs = CONTROLLERS.map((c) => join(ROOT, c, name));
const canRun = process.getuid?.() === 0 && cgroupVersion(ROOT) === 1;

let child: ChildProcess | undefined;

async function num(file: string): Promise<bigint> {
  return BigInt((await readFile(file, 'utf8')).trim());
}

describe.skipIf(!canRun)('cgroup-reader on a real v1 cgroup', () => {
  beforeAll(async () => {
    for (const d of dirs) await mkdir(d);
    // The shell waits for a line, so it is in every cgroup before it execs the busy
    // loop; the loop's fresh memory is then charged to the new memory cgroup.
    child = spawn('sh', ['-c', 'read _; exec sh -c "while :; do :; done"'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const pid = child.pid!;
    for (const d of dirs) await writeFile(join(d, 'cgroup.procs'), `${pid}\n`);
    child.stdin!.write('go\n');
    await sleep(100);
  });

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    for (const d of dirs) {
      // The cgroup may still count the dying task for a moment after exit.
      for (let i = 0; i < 50 && existsSync(d); i++) {
        try {
          await rmdir(d);
        } catch {
          await sleep(20);
        }
      }
    }
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });

  it('sees CPU usage grow and reports exactly what the cgroup files say', async () => {
    const reader = createCgroupReader({ root: ROOT });
    expect(reader.version).toBe(1);
    const first = await reader.read(`/${name}`);
    await sleep(300);
    const second = await reader.read(`/${name}`);
    expect(second.timestampNs).toBeGreaterThan(first.timestampNs);
    // A busy loop on its own core: well over 50 ms of CPU in 300 ms.
    expect(second.cpu!.usageNs - first.cpu!.usageNs).toBeGreaterThan(50_000_000n);
    expect(second.cpu!.userNs! + second.cpu!.systemNs!).toBeGreaterThan(0n);
    expect(second.pids).toEqual({ current: 1n, limit: undefined });

    // Stopped, the task's memory holds still, so the sample must equal the files.
    process.kill(child!.pid!, 'SIGSTOP');
    await sleep(50);
    const s = await reader.read(name);
    const mem = join(ROOT, 'memory', name);
    const usage = await num(join(mem, 'memory.usage_in_bytes'));
    const stat = parseFlatKeyed(await readFile(join(mem, 'memory.stat'), 'utf8'));
    expect(usage).toBeGreaterThan(0n);
    expect(s.memory!.usageBytes).toBe(usage);
    expect(s.memory!.workingSetBytes).toBe(usage - stat.get('total_inactive_file')!);
    expect(s.memory!.rssBytes).toBe(stat.get('total_rss'));
    expect(s.memory!.cacheBytes).toBe(stat.get('total_cache'));
    expect(s.memory!.pageFaults).toBe(stat.get('total_pgfault'));
    expect(s.memory!.majorPageFaults).toBe(stat.get('total_pgmajfault'));
    expect(s.memory!.limitBytes).toBeUndefined();
    expect(s.memory!.oomKills).toBe(0n);
    expect(s.cpu!.usageNs).toBe(await num(join(ROOT, 'cpuacct', name, 'cpuacct.usage')));
  });
});
