// `crius logs`: a container's CRI log file read directly (as crictl does),
// fragments joined, with --tail, --since, --timestamps and -f, which follows
// the file across rotation until the container stops or Ctrl-C.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerState } from '@crius/common/cri';
import { CliError, UsageError, expectArgs, type Command, type Ctx } from '../command.js';
import { LogJoiner, filterRecords, formatRecord, parseChunk, parseLog, parseSince, type LogRecord } from '../cri-log.js';
import { containerStatus, isNotFound, resolveContainer } from '../rpc.js';

const POLL_MS = 150;
const STATUS_EVERY_MS = 1000;

function emit(ctx: Ctx, records: LogRecord[], timestamps: boolean): void {
  for (const r of records) (r.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(formatRecord(r, timestamps));
}

async function readAll(file: string): Promise<{ text: string; size: number; ino: number } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read log file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), size: bytesRead, ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** Reads bytes appended since `offset`; a smaller file or a new inode means rotation: start over. */
async function readNew(file: string, pos: { offset: number; ino: number }): Promise<string> {
  const st = await stat(file).catch(() => undefined);
  if (!st) return '';
  if (st.ino !== pos.ino || st.size < pos.offset) {
    pos.offset = 0;
    pos.ino = st.ino;
  }
  if (st.size === pos.offset) return '';
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(st.size - pos.offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos.offset);
    pos.offset += bytesRead;
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function isRunning(ctx: Ctx, id: string): Promise<boolean> {
  try {
    const s = (await containerStatus(ctx, id)).status;
    return s?.state === ContainerState.CONTAINER_RUNNING || s?.state === ContainerState.CONTAINER_CREATED;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

interface FollowState {
  joiner: LogJoiner;
  rest: string;
  pos: { offset: number; ino: number };
}

async function follow(ctx: Ctx, id: string, file: string, st: FollowState, print: (r: LogRecord[]) => void): Promise<void> {
  let lastCheck = Date.now();
  while (!ctx.signal.aborted) {
    const chunk = await readNew(file, st.pos);
    if (chunk) {
      const parsed = parseChunk(st.rest + chunk, st.joiner);
      st.rest = parsed.rest;
      print(parsed.records);
      continue;
    }
    if (Date.now() - lastCheck >= STATUS_EVERY_MS) {
      lastCheck = Date.now();
      if (!(await isRunning(ctx, id))) {
        // conmon may have written the last lines just before the exit: read once more, then flush.
        const last = st.rest + (await readNew(file, st.pos));
        print([...parseChunk(last ? `${last}\n` : '', st.joiner).records, ...st.joiner.flush()]);
        return;
      }
    }
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}

export const logsCommand: Command = {
  name: 'logs',
  args: 'CONTAINER',
  summary: 'Print the logs of a container (from its CRI log file).',
  help: `options:
  -f, --follow         keep printing new lines until the container stops
  --tail N             only the last N lines
  --since T            lines since a time (RFC3339) or a duration ago (10s, 5m, 1h)
  -t, --timestamps     prefix each line with its time`,
  options: {
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string' },
    since: { type: 'string' },
    timestamps: { type: 'boolean', short: 't' },
  },
  async run(ctx, v, pos) {
    expectArgs(pos, ['CONTAINER']);
    const tail = v.tail === undefined || v.tail === '-1' ? undefined : Number(v.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UsageError(`--tail ${JSON.stringify(v.tail)}: expected a line count`);
    let sinceMs: number | undefined;
    try {
      sinceMs = v.since === undefined ? undefined : parseSince(v.since as string);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const id = await resolveContainer(ctx, pos[0]!);
    const status = (await containerStatus(ctx, id)).status;
    const file = status?.logPath;
    if (!file) throw new CliError(`container ${id} has no log path (its pod config has no log_directory)`);
    const timestamps = v.timestamps === true;
    const whole = await readAll(file);
    if (!whole && !v.follow) throw new CliError(`container ${id}: no log file at ${file}`);
    const print = (records: LogRecord[], n?: number) => emit(ctx, filterRecords(records, { sinceMs, tail: n }), timestamps);
    if (!v.follow) {
      print(parseLog(whole!.text), tail);
      return 0;
    }
    const st: FollowState = { joiner: new LogJoiner(), rest: '', pos: { offset: whole?.size ?? 0, ino: whole?.ino ?? 0 } };
    const first = parseChunk(whole?.text ?? '', st.joiner);
    st.rest = first.rest;
    print(first.records, tail);
    await follow(ctx, id, file, st, (r) => print(r));
    return 0;
  },
};
