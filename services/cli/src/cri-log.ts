// The CRI container log format as conmon writes it:
// `<RFC3339Nano> <stdout|stderr> <P|F> <text>` per line, where P marks a
// fragment of a longer line continued by the next entry of the same stream.
// Pure parsing, joining, tail and --since for `crius logs`.

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  time: string;
  stream: LogStream;
  partial: boolean;
  text: string;
}

/** One logical line: the fragments of a stream joined, timed by its first fragment. */
export interface LogRecord {
  time: string;
  stream: LogStream;
  text: string;
}

const LINE = /^(\S+) (stdout|stderr) ([PF])(?: (.*))?$/s;

/** One log line (without its newline); undefined when it is not in the CRI format. */
export function parseLogLine(line: string): LogEntry | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return { time: m[1]!, stream: m[2] as LogStream, partial: m[3] === 'P', text: m[4] ?? '' };
}

/** Joins P fragments per stream (stdout and stderr fragments may interleave). */
export class LogJoiner {
  private pending = new Map<LogStream, LogRecord>();

  push(e: LogEntry): LogRecord | undefined {
    const open = this.pending.get(e.stream);
    const rec = open ? { ...open, text: open.text + e.text } : { time: e.time, stream: e.stream, text: e.text };
    if (e.partial) {
      this.pending.set(e.stream, rec);
      return undefined;
    }
    this.pending.delete(e.stream);
    return rec;
  }

  /** Fragments never completed (the container exited mid-line), oldest first. */
  flush(): LogRecord[] {
    const out = [...this.pending.values()].sort((a, b) => (a.time < b.time ? -1 : 1));
    this.pending.clear();
    return out;
  }
}

/**
 * Splits a chunk read from a log file into complete records; `rest` is an
 * unterminated last line to prepend to the next chunk. Lines not in the CRI
 * format are passed through as stdout so nothing is hidden.
 */
export function parseChunk(text: string, joiner: LogJoiner): { records: LogRecord[]; rest: string } {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const records: LogRecord[] = [];
  for (const line of lines) {
    const e = parseLogLine(line) ?? { time: '', stream: 'stdout' as const, partial: false, text: line };
    const r = joiner.push(e);
    if (r) records.push(r);
  }
  return { records, rest };
}

/** A whole log file's records, unfinished fragments included. */
export function parseLog(text: string): LogRecord[] {
  if (!text) return [];
  const joiner = new LogJoiner();
  const { records } = parseChunk(text.endsWith('\n') ? text : text + '\n', joiner);
  return [...records, ...joiner.flush()];
}

/** Milliseconds since the epoch of an RFC3339Nano time (nanoseconds dropped); NaN if unparsable. */
export function logTimeMs(time: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return NaN;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  return Date.parse(`${m[1]}${frac}${m[3]}`);
}

const DURATION = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `--since`: an RFC3339 time or a duration back from now (10s, 5m, 1h30m); epoch ms. */
export function parseSince(value: string, now = Date.now()): number {
  const t = value.trim();
  if (/^(\d+(?:\.\d+)?(ms|s|m|h))+$/.test(t)) {
    let ms = 0;
    for (const m of t.matchAll(DURATION)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now - ms;
  }
  const abs = logTimeMs(t);
  if (Number.isNaN(abs)) throw new Error(`--since ${JSON.stringify(value)}: expected a time like 2024-01-02T15:04:05Z or a duration like 10s, 5m, 1h30m`);
  return abs;
}

export interface LogFilter {
  sinceMs?: number;
  tail?: number;
}

export function filterRecords(records: LogRecord[], f: LogFilter): LogRecord[] {
  let out = records;
  if (f.sinceMs !== undefined) out = out.filter((r) => logTimeMs(r.time) >= f.sinceMs!);
  if (f.tail !== undefined && f.tail >= 0) out = f.tail === 0 ? [] : out.slice(-f.tail);
  return out;
}

/** What `crius logs` prints for a record (the time first with --timestamps). */
export function formatRecord(r: LogRecord, timestamps: boolean): string {
  return timestamps && r.time ? `${r.time} ${r.text}\n` : `${r.text}\n`;
}
