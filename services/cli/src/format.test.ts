import { describe, expect, it } from 'vitest';
import { age, decodeInfo, humanDuration, humanSize, newestFirst, outputFormat, parseLabels, table, toJson, toYaml, truncId } from './format.js';

describe('tables', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(table(['ID', 'NAME', 'STATE'], [['abc', 'x', 'Running'], ['a', 'longer-name', 'Exited']])).toBe(
      ['ID    NAME          STATE', 'abc   x             Running', 'a     longer-name   Exited'].join('\n'),
    );
  });

  it('does not leave trailing spaces when the last cells are empty', () => {
    expect(table(['A', 'B'], [['1', '']])).toBe('A   B\n1');
  });
});

describe('ages', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  const ago = (ms: number) => BigInt(now - ms) * 1_000_000n;

  it('says how long ago in words', () => {
    expect(age(ago(300), now)).toBe('Less than a second ago');
    expect(age(ago(1000), now)).toBe('1 second ago');
    expect(age(ago(42_000), now)).toBe('42 seconds ago');
    expect(age(ago(90_000), now)).toBe('About a minute ago');
    expect(age(ago(2 * 60_000 + 5000), now)).toBe('2 minutes ago');
    expect(age(ago(65 * 60_000), now)).toBe('About an hour ago');
    expect(age(ago(5 * 3600_000), now)).toBe('5 hours ago');
    expect(age(ago(3 * 86400_000), now)).toBe('3 days ago');
    expect(age(ago(21 * 86400_000), now)).toBe('3 weeks ago');
    expect(age(ago(100 * 86400_000), now)).toBe('3 months ago');
    expect(age(ago(800 * 86400_000), now)).toBe('2 years ago');
  });

  it('shows "-" for an unset time and never a negative age', () => {
    expect(age(0n, now)).toBe('-');
    expect(age(ago(-5000), now)).toBe('Less than a second ago');
    expect(humanDuration(59_999)).toBe('59 seconds');
  });
});

describe('ids and sizes', () => {
  it('truncates ids to 13 characters, images without sha256:', () => {
    const id = 'f'.repeat(64);
    expect(truncId(id)).toBe('f'.repeat(13));
    expect(truncId(`sha256:${'a'.repeat(64)}`)).toBe('a'.repeat(13));
    expect(truncId(`sha256:${'a'.repeat(64)}`, true)).toBe(`sha256:${'a'.repeat(64)}`);
  });

  it('prints sizes with three significant digits', () => {
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(757_000n)).toBe('757kB');
    expect(humanSize(4_461_234n)).toBe('4.46MB');
    expect(humanSize(1_000_000_000)).toBe('1GB');
  });
});

describe('machine output', () => {
  it('is stable JSON: sorted keys, bigints as strings, bytes as base64, no undefined', () => {
    const a = toJson({ b: 1n, a: { z: Buffer.from('hi'), y: undefined, x: [2n] } });
    const b = toJson({ a: { x: [2n], z: Buffer.from('hi') }, b: 1n });
    expect(a).toBe(b);
    expect(JSON.parse(a)).toEqual({ a: { x: ['2'], z: 'aGk=' }, b: '1' });
  });

  it('writes YAML of the same value', () => {
    expect(toYaml({ size: 10n, tags: ['a'] })).toBe('size: "10"\ntags:\n  - a');
  });

  it('validates -o and decodes verbose info', () => {
    expect(outputFormat(undefined, 'table')).toBe('table');
    expect(outputFormat('yaml', 'table')).toBe('yaml');
    expect(() => outputFormat('go-template', 'table')).toThrow(/expected json, yaml or table/);
    expect(decodeInfo({ a: '{"ready":true}', b: 'plain' })).toEqual({ a: { ready: true }, b: 'plain' });
  });
});

describe('flags', () => {
  it('parses labels and rejects ones without "="', () => {
    expect(parseLabels(['app=web', 'tier=a=b'])).toEqual({ app: 'web', tier: 'a=b' });
    expect(() => parseLabels(['app'])).toThrow(/expected key=value/);
  });

  it('sorts newest first and applies --latest / --last', () => {
    const items = [{ createdAt: 1n }, { createdAt: 3n }, { createdAt: 2n }];
    expect(newestFirst(items, {}).map((i) => i.createdAt)).toEqual([3n, 2n, 1n]);
    expect(newestFirst(items, { latest: true })).toEqual([{ createdAt: 3n }]);
    expect(newestFirst(items, { last: '2' })).toHaveLength(2);
    expect(() => newestFirst(items, { last: 'x' })).toThrow(/--last/);
  });
});
