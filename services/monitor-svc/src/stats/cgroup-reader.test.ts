// Tests of cgroup-reader on fake v1/v2 trees in a temp dir (parsing and arithmetic).
// The real-cgroup test is in cgroup-reader.real.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '@crius/common';
import { cgroupVersion } from '@crius/common';
import { createCgroupReader } from './cgroup-reader.js';
import { parseFlatKeyed, parseMax, parseProcCgroup, parsePsi, UNLIMITED } from './cgroup-parse.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'crius-cgfake-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(dir: string, content: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(content)) await writeFile(join(dir, name), text);
}

const clock = () => 1_700_000_000_000_000_000n;
const V1_UNLIMITED = '9223372036854771712\n';

describe('cgroup v1 fake tree', () => {
  const path = '/kubepods/pod1/ctr1';
  beforeEach(async () => {
    await files(join(root, 'cpuacct', path), {
      'cpuacct.usage': '5000000000\n',
      'cpuacct.usage_user': '3000000000\n',
      'cpuacct.usage_sys': '2000000000\n',
    });
    await files(join(root, 'cpu', path), {
      'cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n',
    });
    await files(join(root, 'memory', path), {
      'memory.usage_in_bytes': '10485760\n',
      'memory.limit_in_bytes': '67108864\n',
      'memory.use_hierarchy': '1\n',
      'memory.stat':
        'cache 1\nrss 2\nmapped_file 3\npgfault 4\npgmajfault 5\ninactive_file 6\n' +
        'total_cache 4096000\ntotal_rss 5000000\ntotal_mapped_file 8192\ntotal_pgfault 777\n' +
        'total_pgmajfault 9\ntotal_inactive_file 2097152\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
      'memory.memsw.usage_in_bytes': '11534336\n',
      'memory.memsw.limit_in_bytes': '134217728\n',
    });
    await files(join(root, 'pids', path), { 'pids.current': '7\n', 'pids.max': 'max\n' });
  });

  it('detects v1 and reads cpu, memory, swap, pids with hierarchical counters', async () => {
    expect(cgroupVersion(root)).toBe(1);
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.version).toBe(1);
    expect(s.timestampNs).toBe(clock());
    expect(s.cpu).toEqual({
      usageNs: 5_000_000_000n,
      userNs: 3_000_000_000n,
      systemNs: 2_000_000_000n,
      periods: 10n,
      throttledPeriods: 4n,
      throttledNs: 123456n,
    });
    expect(s.memory).toEqual({
      usageBytes: 10485760n,
      workingSetBytes: 10485760n - 2097152n,
      rssBytes: 5000000n,
      cacheBytes: 4096000n,
      mappedFileBytes: 8192n,
      pageFaults: 777n,
      majorPageFaults: 9n,
      limitBytes: 67108864n,
      oomKills: 3n,
    });
    expect(s.swap).toEqual({ usageBytes: 11534336n - 10485760n, limitBytes: 134217728n - 67108864n });
    expect(s.pids).toEqual({ current: 7n, limit: undefined });
    expect(s.psi).toBeUndefined();
  });

  it('treats the v1 huge limit as unlimited and floors working set at 0', async () => {
    await files(join(root, 'memory', path), {
      'memory.limit_in_bytes': V1_UNLIMITED,
      'memory.stat': 'total_inactive_file 99999999\n',
    });
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.memory?.limitBytes).toBeUndefined();
    expect(s.memory?.workingSetBytes).toBe(0n);
    expect(s.swap?.limitBytes).toBeUndefined();
  });

  it('falls back to cpuacct.stat ticks when usage_user/usage_sys are absent', async () => {
    await rm(join(root, 'cpuacct', path, 'cpuacct.usage_user'));
    await rm(join(root, 'cpuacct', path, 'cpuacct.usage_sys'));
    await files(join(root, 'cpuacct', path), { 'cpuacct.stat': 'user 150\nsystem 25\n' });
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.cpu?.userNs).toBe(1_500_000_000n);
    expect(s.cpu?.systemNs).toBe(250_000_000n);
  });

  it('leaves out a controller whose directory is missing', async () => {
    await rm(join(root, 'pids'), { recursive: true });
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.pids).toBeUndefined();
    expect(s.cpu?.usageNs).toBe(5_000_000_000n);
  });

  it('throws NotFoundError naming the path when the cgroup is gone', async () => {
    const r = createCgroupReader({ root, clock });
    await expect(r.read('/kubepods/nope')).rejects.toThrow(NotFoundError);
    await expect(r.read('/kubepods/nope')).rejects.toThrow(/\/kubepods\/nope/);
  });
});

describe('cgroup v2 fake tree', () => {
  const path = 'kubepods/pod2/ctr2';
  const psiText = 'some avg10=1.50 avg60=0.25 avg300=0.00 total=4000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n';
  beforeEach(async () => {
    await files(root, { 'cgroup.controllers': 'cpu memory pids io\n' });
    await files(join(root, path), {
      'cpu.stat':
        'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 20\nnr_throttled 5\nthrottled_usec 700\n',
      'memory.current': '20971520\n',
      'memory.max': 'max\n',
      'memory.stat': 'anon 8388608\nfile 4194304\nfile_mapped 4096\ninactive_file 1048576\npgfault 1234\npgmajfault 12\n',
      'memory.events': 'low 0\nhigh 0\nmax 2\noom 2\noom_kill 1\n',
      'memory.swap.current': '4096\n',
      'memory.swap.max': '1048576\n',
      'pids.current': '3\n',
      'pids.max': '100\n',
      'cpu.pressure': psiText,
      'memory.pressure': psiText,
      'io.pressure': psiText,
      'io.stat': '8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n',
    });
  });

  it('detects v2 and converts usec to ns, anon/file to rss/cache', async () => {
    expect(cgroupVersion(root)).toBe(2);
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.version).toBe(2);
    expect(s.cpu).toEqual({
      usageNs: 2_500_000_000n,
      userNs: 2_000_000_000n,
      systemNs: 500_000_000n,
      periods: 20n,
      throttledPeriods: 5n,
      throttledNs: 700_000n,
    });
    expect(s.memory).toEqual({
      usageBytes: 20971520n,
      workingSetBytes: 20971520n - 1048576n,
      rssBytes: 8388608n,
      cacheBytes: 4194304n,
      mappedFileBytes: 4096n,
      pageFaults: 1234n,
      majorPageFaults: 12n,
      limitBytes: undefined,
      oomKills: 1n,
    });
    expect(s.swap).toEqual({ usageBytes: 4096n, limitBytes: 1048576n });
    expect(s.pids).toEqual({ current: 3n, limit: 100n });
    expect(s.psi?.cpu?.some).toEqual({ avg10: 1.5, avg60: 0.25, avg300: 0, totalUs: 4000n });
    expect(s.psi?.io?.full?.totalUs).toBe(1000n);
  });

  it('has no psi when the pressure files are absent', async () => {
    for (const f of ['cpu.pressure', 'memory.pressure', 'io.pressure']) await rm(join(root, path, f));
    const s = await createCgroupReader({ root, clock }).read(path);
    expect(s.psi).toBeUndefined();
  });

  it('throws NotFoundError when the cgroup is gone', async () => {
    await expect(createCgroupReader({ root }).read('kubepods/gone')).rejects.toThrow(NotFoundError);
  });
});

describe('parsers', () => {
  it('parseMax reads numbers and max, rejects junk', () => {
    expect(parseMax('42\n')).toBe(42n);
    expect(parseMax('max\n')).toBe(UNLIMITED);
    expect(() => parseMax('abc', 'memory.max')).toThrow(/memory\.max/);
  });
  it('parseFlatKeyed skips nested-keyed lines', () => {
    const m = parseFlatKeyed('a 1\nb 2 3\nc x\n\n');
    expect([...m]).toEqual([['a', 1n]]);
  });
  it('parsePsi reads some and full', () => {
    expect(parsePsi('some avg10=0.10 avg60=0.20 avg300=0.30 total=55\n').some?.totalUs).toBe(55n);
  });
  it('parseProcCgroup finds a v1 controller line and the v2 line', () => {
    const text = '9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/unified/x\n';
    expect(parseProcCgroup(text, 'memory')).toBe('/a/b');
    expect(parseProcCgroup(text, 'cpuacct')).toBe('/c');
    expect(parseProcCgroup(text)).toBe('/unified/x');
    expect(parseProcCgroup(text, 'pids')).toBeUndefined();
  });
});
