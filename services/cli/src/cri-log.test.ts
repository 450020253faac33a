import { describe, expect, it } from 'vitest';
import { LogJoiner, filterRecords, formatRecord, logTimeMs, parseChunk, parseLog, parseLogLine, parseSince } from './cri-log.js';

const T1 = '2024-01-02T03:04:05.123456789Z';
const T2 = '2024-01-02T03:04:06.000000001+00:00';

describe('CRI log lines', () => {
  it('parses time, stream, tag and text (spaces and empty text kept)', () => {
    expect(parseLogLine(`${T1} stdout F hello  world `)).toEqual({ time: T1, stream: 'stdout', partial: false, text: 'hello  world ' });
    expect(parseLogLine(`${T1} stderr P `)).toEqual({ time: T1, stream: 'stderr', partial: true, text: '' });
    expect(parseLogLine(`${T1} stdout F`)).toEqual({ time: T1, stream: 'stdout', partial: false, text: '' });
    expect(parseLogLine('not a log line')).toBeUndefined();
    expect(parseLogLine(`${T1} stdin F x`)).toBeUndefined();
  });

  it('joins P fragments per stream, even when streams interleave', () => {
    const text = [`${T1} stdout P par`, `${T1} stderr P e1`, `${T1} stdout P ti`, `${T2} stderr F e2`, `${T2} stdout F al`, `${T2} stdout F next`].join('\n') + '\n';
    expect(parseLog(text)).toEqual([
      { time: T1, stream: 'stderr', text: 'e1e2' },
      { time: T1, stream: 'stdout', text: 'partial' },
      { time: T2, stream: 'stdout', text: 'next' },
    ]);
  });

  it('keeps an unterminated fragment at the end of a whole file', () => {
    expect(parseLog(`${T1} stdout F a\n${T2} stdout P tail-no-newline\n`).map((r) => r.text)).toEqual(['a', 'tail-no-newline']);
    expect(parseLog('')).toEqual([]);
  });

  it('carries an incomplete line and open fragments between chunks (follow mode)', () => {
    const joiner = new LogJoiner();
    const a = parseChunk(`${T1} stdout P one-\n${T1} stdout F `, joiner);
    expect(a).toEqual({ records: [], rest: `${T1} stdout F ` });
    const b = parseChunk(`${a.rest}two\n${T2} stdout F three\n`, joiner);
    expect(b.records.map((r) => r.text)).toEqual(['one-two', 'three']);
    expect(b.rest).toBe('');
  });

  it('passes lines not in the format through as stdout', () => {
    expect(parseLog('garbage\n')).toEqual([{ time: '', stream: 'stdout', text: 'garbage' }]);
  });
});

describe('tail, since and timestamps', () => {
  const records = parseLog([`${T1} stdout F a`, `${T2} stdout F b`, `2024-01-02T03:04:07Z stdout F c`].join('\n'));

  it('keeps the last N lines', () => {
    expect(filterRecords(records, { tail: 2 }).map((r) => r.text)).toEqual(['b', 'c']);
    expect(filterRecords(records, { tail: 0 })).toEqual([]);
    expect(filterRecords(records, { tail: 10 })).toHaveLength(3);
  });

  it('keeps lines since a time, to the millisecond', () => {
    expect(filterRecords(records, { sinceMs: Date.parse('2024-01-02T03:04:06Z') }).map((r) => r.text)).toEqual(['b', 'c']);
    expect(logTimeMs(T1)).toBe(Date.parse('2024-01-02T03:04:05.123Z'));
    expect(logTimeMs('2024-01-02T03:04:05+02:00')).toBe(Date.parse('2024-01-02T01:04:05Z'));
    expect(logTimeMs('yesterday')).toBeNaN();
  });

  it('reads --since as a time or a duration back from now', () => {
    const now = Date.parse('2024-01-02T03:00:00Z');
    expect(parseSince('10s', now)).toBe(now - 10_000);
    expect(parseSince('1h30m', now)).toBe(now - 5_400_000);
    expect(parseSince('2024-01-01T00:00:00Z', now)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(() => parseSince('soon', now)).toThrow(/--since "soon": expected a time/);
  });

  it('prefixes the time with --timestamps', () => {
    expect(formatRecord({ time: T1, stream: 'stdout', text: 'x' }, true)).toBe(`${T1} x\n`);
    expect(formatRecord({ time: T1, stream: 'stdout', text: 'x' }, false)).toBe('x\n');
  });
});
