// CRI log reading for the crius-conmon tests: parse every record strictly
// and rebuild what the container wrote on each stream.
import { readFile } from 'node:fs/promises';

export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: 'F' | 'P';
  text: Buffer;
}

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/;

/** Parses a CRI log; throws on any malformed record. */
export function parseCriLog(buf: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`log record without trailing newline at byte ${pos}`);
    const line = buf.subarray(pos, nl);
    const s1 = line.indexOf(0x20);
    const s2 = line.indexOf(0x20, s1 + 1);
    const s3 = line.indexOf(0x20, s2 + 1);
    if (s1 < 0 || s2 < 0 || s3 < 0) throw new Error(`malformed log record: ${line.toString()}`);
    const time = line.subarray(0, s1).toString();
    const stream = line.subarray(s1 + 1, s2).toString();
    const tag = line.subarray(s2 + 1, s3).toString();
    if (!TIME_RE.test(time) || Number.isNaN(Date.parse(time))) throw new Error(`bad timestamp '${time}'`);
    if (stream !== 'stdout' && stream !== 'stderr') throw new Error(`bad stream '${stream}'`);
    if (tag !== 'F' && tag !== 'P') throw new Error(`bad tag '${tag}'`);
    out.push({ time, stream, tag, text: Buffer.from(line.subarray(s3 + 1)) });
    pos = nl + 1;
  }
  return out;
}

/** What the container wrote on one stream: P parts joined, F ends a line. */
export function streamBytes(records: LogRecord[], stream: 'stdout' | 'stderr'): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    if (r.stream !== stream) continue;
    parts.push(r.text);
    if (r.tag === 'F') parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export async function readLog(path: string): Promise<LogRecord[]> {
  return parseCriLog(await readFile(path));
}
