import { describe, expect, it } from 'vitest';
import { UsageError, expectArgs, parseCommandArgs, splitCommand, type Command } from './command.js';
import { PullBoard, matchesRef } from './pull-progress.js';

const exec: Command = {
  name: 'exec',
  args: 'CONTAINER COMMAND',
  summary: '',
  options: { timeout: { type: 'string' }, tty: { type: 'boolean', short: 't' } },
  rawAfter: 1,
  run: async () => 0,
};
const ps: Command = { name: 'ps', args: '', summary: '', options: { all: { type: 'boolean', short: 'a' } }, run: async () => 0 };

describe('command lines', () => {
  it('finds the command after global options', () => {
    expect(splitCommand(['--config', 'x.toml', 'ps', '-a'])).toEqual({ name: 'ps', rest: ['--config', 'x.toml', '-a'] });
    expect(splitCommand(['--endpoint=/s', 'version'])).toEqual({ name: 'version', rest: ['--endpoint=/s'] });
    expect(splitCommand(['-h']).name).toBeUndefined();
  });

  it('accepts global options after the command too', () => {
    expect(parseCommandArgs(ps, ['-a', '--endpoint', '/s']).values).toMatchObject({ all: true, endpoint: '/s' });
  });

  it('stops parsing options at the command line of exec', () => {
    const r = parseCommandArgs(exec, ['--timeout', '5', 'abc', 'sh', '-c', 'echo -t --x']);
    expect(r.values).toMatchObject({ timeout: '5' });
    expect(r.values.tty).toBeUndefined();
    expect(r.positionals).toEqual(['abc', 'sh', '-c', 'echo -t --x']);
    expect(parseCommandArgs(exec, ['-t', 'abc', '--', 'ls']).positionals).toEqual(['abc', 'ls']);
  });

  it('turns unknown options and wrong counts into usage errors', () => {
    expect(() => parseCommandArgs(ps, ['--bogus'])).toThrow(new UsageError("Unknown option '--bogus'"));
    expect(() => expectArgs([], ['POD'])).toThrow(/missing POD/);
    expect(() => expectArgs(['a', 'b'], ['POD'])).toThrow(/unexpected argument "b"/);
    expect(() => expectArgs(['a', 'b'], ['POD'], { variadic: true })).not.toThrow();
  });
});

describe('pull progress', () => {
  it('matches the events of the reference the user typed', () => {
    expect(matchesRef('docker.io/library/busybox:latest', 'busybox')).toBe(true);
    expect(matchesRef('docker.io/library/busybox:1.36', 'busybox:1.36')).toBe(true);
    expect(matchesRef('127.0.0.1:5000/a/b:1', '127.0.0.1:5000/a/b:1')).toBe(true);
    expect(matchesRef('docker.io/library/busybox:latest', 'box')).toBe(false);
    expect(matchesRef('docker.io/library/busybox:1.36', 'busybox')).toBe(false);
    expect(matchesRef('q.io/x/busybox@sha256:ab', 'q.io/x/busybox@sha256:ab')).toBe(true);
  });

  it('draws one bar per layer and never goes backwards', () => {
    const board = new PullBoard();
    board.update({ layerDigest: 'sha256:aaaaaaaaaaaaaaaa', done: 500n, total: 1000n });
    board.update({ layerDigest: 'sha256:bbbbbbbbbbbbbbbb', done: 2000n, total: 2000n });
    board.update({ layerDigest: 'sha256:aaaaaaaaaaaaaaaa', done: 100n, total: 1000n });
    expect(board.lines(10)).toEqual(['aaaaaaaaaaaa: [=====>    ] 500B/1kB', 'bbbbbbbbbbbb: done 2kB']);
  });
});
