// crius-conmon: the CRI log file — record format, P/F splitting of long and
// partial lines, no byte lost, UTF-8 never split inside a record, reopen on
// request (ctl fifo and SIGUSR1) after the file was renamed, size limit.
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TestEnv, useTestEnv, exists, monitorBinary, readLog, streamBytes, waitFor, type Container } from './harness.js';

const BIN = monitorBinary();
let env: TestEnv;

useTestEnv((e) => (env = e));

/** Creates, starts and waits for a container that exits by itself. */
async function runToExit(args: string[], extra: string[] = []): Promise<Container> {
  const c = await env.container({ args });
  await env.create(BIN, c, extra);
  await env.start(c);
  await env.exitCode(c);
  return c;
}

async function logContains(c: Container, path: string, text: string): Promise<true | undefined> {
  const buf = await readFile(path).catch(() => Buffer.alloc(0));
  return buf.includes(text) ? true : undefined;
}

describe('CRI log format', () => {
  it('keeps all of 1 MiB written without a newline, as P records of at most 8 KiB', async () => {
    const c = await runToExit(['sh', '-c', 'head -c 1048576 /dev/zero | tr "\\0" a']);
    const records = await readLog(c.log);
    const out = streamBytes(records, 'stdout');
    expect(out.length).toBe(1048576);
    expect(out.equals(Buffer.alloc(1048576, 'a'))).toBe(true);
    expect(records.every((r) => r.tag === 'P' && r.stream === 'stdout')).toBe(true);
    expect(Math.max(...records.map((r) => r.text.length))).toBeLessThanOrEqual(8192);
  });

  it('splits a long line into P parts ending with one F', async () => {
    const c = await runToExit(['sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" b; echo; echo next']);
    const records = await readLog(c.log);
    expect(streamBytes(records, 'stdout').toString()).toBe('b'.repeat(100000) + '\nnext\n');
    const fIndex = records.findIndex((r) => r.tag === 'F');
    expect(fIndex).toBeGreaterThan(0);
    expect(records.slice(0, fIndex).every((r) => r.tag === 'P')).toBe(true);
    expect(records.at(-1)!.text.toString()).toBe('next');
  });

  it('keeps stdout and stderr apart when they interleave', async () => {
    // The pauses make the monitor read each round separately, so the records
    // of the two streams alternate in the file.
    const script = 'for i in $(seq 1 200); do echo out$i; echo err$i >&2; [ $((i % 20)) = 0 ] && sleep 0.02; done';
    const c = await runToExit(['sh', '-c', script]);
    const records = await readLog(c.log);
    const lines = (p: string) => Array.from({ length: 200 }, (_, i) => `${p}${i + 1}\n`).join('');
    expect(streamBytes(records, 'stdout').toString()).toBe(lines('out'));
    expect(streamBytes(records, 'stderr').toString()).toBe(lines('err'));
    expect(records.every((r) => r.tag === 'F')).toBe(true);
    // Both streams were written while the other was: they really interleave.
    const firstErr = records.findIndex((r) => r.stream === 'stderr');
    const lastOut = records.map((r) => r.stream).lastIndexOf('stdout');
    expect(firstErr).toBeLessThan(lastOut);
  });

  it('writes a partial line as soon as it is read, then completes it with F', async () => {
    const c = await runToExit(['sh', '-c', 'printf abc; sleep 0.3; printf def; sleep 0.3; echo ghi']);
    const records = await readLog(c.log);
    expect(records.map((r) => `${r.tag} ${r.text}`)).toEqual(['P abc', 'P def', 'F ghi']);
    const times = records.map((r) => Date.parse(r.time));
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(200);
  });

  it('never splits a UTF-8 character across records, even split across reads', async () => {
    // "€" is e2 82 ac; the container writes its first two bytes, pauses, then the rest.
    const c = await runToExit(['sh', '-c', "printf 'x\\342\\202'; sleep 0.3; printf '\\254 end\\n'"]);
    const records = await readLog(c.log);
    expect(streamBytes(records, 'stdout').toString('utf8')).toBe('x€ end\n');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (const r of records) expect(() => decoder.decode(r.text)).not.toThrow();
    expect(records.length).toBe(2); // "P x" then "F € end"
  });

  it('flushes an incomplete UTF-8 tail at exit instead of losing it', async () => {
    const c = await runToExit(['sh', '-c', "printf 'tail\\342\\202'"]);
    const out = streamBytes(await readLog(c.log), 'stdout');
    expect(out.equals(Buffer.from([0x74, 0x61, 0x69, 0x6c, 0xe2, 0x82]))).toBe(true);
  });

  it('appends to an existing log file (a restarted container keeps its history)', async () => {
    const c = await env.container({ args: ['echo', 'second'] });
    await writeFile(c.log, '2024-01-01T00:00:00.000000000+00:00 stdout F first\n');
    await env.create(BIN, c);
    await env.start(c);
    await env.exitCode(c);
    expect(streamBytes(await readLog(c.log), 'stdout').toString()).toBe('first\nsecond\n');
  });
});

describe('log rotation', () => {
  // Prints "one", then "two" on SIGUSR1, "three" and exits on SIGTERM.
  const script = 'trap "echo two" USR1; trap "echo three; exit 0" TERM; echo one; while true; do sleep 0.05; done';

  it('reopens the log on a ctl "2 0 0" message and on SIGUSR1 after renames', async () => {
    const c = await env.container({ args: ['sh', '-c', script] });
    const { monitorPid } = await env.create(BIN, c);
    await env.start(c);
    await waitFor('first line', () => logContains(c, c.log, 'one'));

    await rename(c.log, c.log + '.1');
    await writeFile(join(c.bundle, 'ctl'), '2 0 0\n');
    await waitFor('log reopened via ctl', async () => ((await exists(c.log)) ? true : undefined));
    await env.runc('kill', c.id, 'USR1');
    await waitFor('second line', () => logContains(c, c.log, 'two'));

    await rename(c.log, c.log + '.2');
    process.kill(monitorPid, 'SIGUSR1');
    await waitFor('log reopened via SIGUSR1', async () => ((await exists(c.log)) ? true : undefined));
    await env.runc('kill', c.id, 'TERM');
    expect(await env.exitCode(c)).toBe('0');

    const text = async (p: string) => streamBytes(await readLog(p), 'stdout').toString();
    expect(await text(c.log + '.1')).toBe('one\n');
    expect(await text(c.log + '.2')).toBe('two\n');
    expect(await text(c.log)).toBe('three\n');
  });

  it('keeps the file under --log-size-max by starting it over', async () => {
    const line = 'x'.repeat(99);
    const c = await runToExit(['sh', '-c', `for i in $(seq 1 300); do echo ${line}; done; echo last`], [
      '--log-size-max', '4096',
    ]);
    expect((await stat(c.log)).size).toBeLessThanOrEqual(4096);
    // The file holds the newest records; the first may finish a line whose
    // start went with the old file (a read can end mid-line: P then F).
    const lines = streamBytes(await readLog(c.log), 'stdout').toString().split('\n');
    expect(lines.slice(-2)).toEqual(['last', '']);
    expect(line.endsWith(lines[0])).toBe(true);
    expect(lines.slice(1, -2).every((l) => l === line)).toBe(true);
    expect(lines.length).toBeGreaterThan(20);
  });

  it('cuts a read larger than --log-size-max into P records that fit, never inside a character (issue 16)', async () => {
    // 8192 is the smallest limit crius allows; one 8 KiB read plus the
    // timestamp and tag would not fit in one record.
    const c = await runToExit(['sh', '-c', 's=$(printf "\\303\\251"); for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do s="$s$s"; done; printf "%s\\n" "$s"; echo done'], ['--log-size-max', '8192']);
    const raw = await readFile(c.log);
    expect(raw.length).toBeLessThanOrEqual(8192);
    const records = await readLog(c.log);
    for (const r of records) expect(r.text.toString('utf8')).not.toContain('\uFFFD');
    const out = streamBytes(records, 'stdout').toString('utf8');
    expect(out.endsWith('é\ndone\n')).toBe(true);
    expect(/^é+\ndone\n$/.test(out)).toBe(true);
  });
});
