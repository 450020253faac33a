// net-stats: parser on fixture text, and a real network namespace created (and deleted) here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { NotFoundError } from '@crius/common';
import {
  parseNetDev,
  readNetDevOfNetns,
  readNetDevOfPid,
  readPodNetDev,
  toNetworkUsage,
} from './net-stats.js';

const FIXTURE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth1:     500       5    1    2    0     0          0         0      600       6    3    4    0     0       0          0
  eth0: 224797775    8736    7    8    0     0          0         0   622348    6452    9   10    0     0       0          0
`;

describe('parseNetDev', () => {
  it('reads name, bytes, packets, errors, drops of each interface', () => {
    const e = parseNetDev(FIXTURE);
    expect(e.map((x) => x.name)).toEqual(['lo', 'eth1', 'eth0']);
    expect(e[2]).toEqual({
      name: 'eth0',
      rxBytes: 224797775n,
      rxPackets: 8736n,
      rxErrors: 7n,
      rxDropped: 8n,
      txBytes: 622348n,
      txPackets: 6452n,
      txErrors: 9n,
      txDropped: 10n,
    });
  });

  it('rejects a truncated line, naming it', () => {
    expect(() => parseNetDev('  eth0: 1 2 3\n')).toThrow(/eth0: 1 2 3/);
  });
});

describe('toNetworkUsage', () => {
  const entries = parseNetDev(FIXTURE);
  it('puts eth0 first as default and leaves out lo', () => {
    const u = toNetworkUsage(entries, 42n);
    expect(u.timestamp).toBe(42n);
    expect(u.defaultInterface?.name).toBe('eth0');
    expect(u.defaultInterface?.rxBytes?.value).toBe(224797775n);
    expect(u.defaultInterface?.txErrors?.value).toBe(9n);
    expect(u.interfaces.map((i) => i.name)).toEqual(['eth0', 'eth1']);
  });
  it('falls back to the first non-loopback interface without eth0', () => {
    const u = toNetworkUsage(entries.filter((e) => e.name !== 'eth0'), 1n);
    expect(u.defaultInterface?.name).toBe('eth1');
  });
  it('includes lo on request and has no default when nothing is left', () => {
    expect(toNetworkUsage(entries, 1n, { includeLoopback: true }).interfaces).toHaveLength(3);
    const onlyLo = toNetworkUsage(entries.slice(0, 1), 1n);
    expect(onlyLo.defaultInterface).toBeUndefined();
    expect(onlyLo.interfaces).toEqual([]);
  });
});

const canRun = process.getuid?.() === 0 && existsSync('/bin/busybox');

describe.skipIf(!canRun)('net-stats in a real network namespace', () => {
  const ns = `crius-stats-test-${randomBytes(4).toString('hex')}`;
  const nsPath = `/run/netns/${ns}`;
  let sleeper: ChildProcess | undefined;

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    if (sleeper?.pid !== undefined && sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = new Promise((r) => sleeper!.once('exit', r));
      process.kill(sleeper.pid, 'SIGKILL');
      await exited;
    }
    execFileSync('ip', ['netns', 'delete', ns]);
    expect(existsSync(nsPath)).toBe(false);
  });

  it('counts loopback traffic made inside the namespace, via nsenter and via a pid', async () => {
    const before = (await readNetDevOfNetns(nsPath)).find((e) => e.name === 'lo')!;
    expect(before.rxPackets).toBe(0n);
    // Traffic stays inside the namespace this test created.
    execFileSync('ip', ['netns', 'exec', ns, '/bin/busybox', 'ping', '-A', '-c', '3', '-W', '1', '127.0.0.1']);
    const after = (await readNetDevOfNetns(nsPath)).find((e) => e.name === 'lo')!;
    // 3 echo requests + 3 replies, each seen on lo's rx and tx.
    expect(after.rxPackets - before.rxPackets).toBeGreaterThanOrEqual(6n);
    expect(after.txBytes - before.txBytes).toBeGreaterThanOrEqual(6n * 84n);
    expect(after.rxErrors).toBe(0n);

    sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const viaPid = (await readNetDevOfPid(sleeper.pid!)).find((e) => e.name === 'lo')!;
    expect(viaPid.rxBytes).toBe(after.rxBytes);
    const viaPod = await readPodNetDev({ pid: sleeper.pid!, netnsPath: nsPath });
    expect(viaPod?.find((e) => e.name === 'lo')?.txPackets).toBe(after.txPackets);
  });

  it('reports a missing namespace or pid as NotFoundError', async () => {
    await expect(readNetDevOfNetns(`/run/netns/${ns}-absent`)).rejects.toThrow(NotFoundError);
    await expect(readNetDevOfPid(999_999_999)).rejects.toThrow(NotFoundError);
    expect(await readPodNetDev({})).toBeUndefined();
  });
});
