// Test support (not used by the gateway): a StreamingBackend that really runs
// the session on this machine — exec/attach spawn the command (a terminal via
// util-linux `script` for tty), port-forward dials 127.0.0.1:<port> — and
// records what happened so tests can assert on it.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { AttachSpec, ExecSpec, SessionIO, StreamingBackend, TerminalSize } from '../backend.js';

export interface SessionRecord {
  req: ExecSpec | AttachSpec;
  pid?: number;
  aborted: boolean;
  resizes: TerminalSize[];
  exitCode?: number;
  /** For the producer command: bytes accepted by io.stdout, and write() calls that said "full". */
  produced: number;
  pushedBack: number;
  done: Promise<void>;
}

/** cmd[0] of this name makes exec write zeros to stdout forever, honouring backpressure. */
export const PRODUCER = '__producer__';
/** cmd[0] of this name makes exec fail before running anything. */
export const FAILING = '__fail__';

export class LocalBackend implements StreamingBackend {
  readonly sessions: SessionRecord[] = [];
  readonly dialed: Array<{ port: number; socket: Duplex }> = [];

  async exec(req: ExecSpec, io: SessionIO): Promise<{ exitCode: number }> {
    if (req.cmd[0] === FAILING) throw new Error(`cannot run ${req.cmd.join(' ')}: no such container ${req.containerId}`);
    const record = this.record(req, io);
    if (req.cmd[0] === PRODUCER) return this.produce(record, io);
    return this.run(record, req.cmd, io);
  }

  async attach(req: AttachSpec, io: SessionIO): Promise<void> {
    // The "container's main process" of an attach test is a cat: it echoes stdin.
    await this.run(this.record(req, io), ['cat'], io);
  }

  portForward(_podSandboxId: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.off('error', reject);
        this.dialed.push({ port, socket });
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  private record(req: ExecSpec | AttachSpec, io: SessionIO): SessionRecord {
    let resolve!: () => void;
    const record: SessionRecord = {
      req, aborted: false, resizes: [], produced: 0, pushedBack: 0, done: new Promise<void>((r) => (resolve = r)),
    };
    (record as { finish?: () => void }).finish = resolve;
    this.sessions.push(record);
    io.signal.addEventListener('abort', () => (record.aborted = true), { once: true });
    if (io.resize) void (async () => { for await (const size of io.resize!) record.resizes.push(size); })();
    return record;
  }

  private async run(record: SessionRecord, cmd: string[], io: SessionIO): Promise<{ exitCode: number }> {
    // A terminal needs a pty: script(1) gives the command one and relays it.
    const [file, args] = io.tty ? ['script', ['-qfec', cmd.map(shellQuote).join(' '), '/dev/null']] : [cmd[0]!, cmd.slice(1)];
    const child = spawn(file as string, args as string[], { stdio: ['pipe', 'pipe', 'pipe'] });
    record.pid = child.pid;
    const kill = () => child.kill('SIGKILL');
    io.signal.addEventListener('abort', kill, { once: true });
    child.stdin.on('error', () => undefined); // EPIPE when the process exits first
    if (io.stdin) io.stdin.pipe(child.stdin);
    else child.stdin.end();
    if (io.stdout) child.stdout.pipe(io.stdout);
    else child.stdout.resume();
    if (io.stderr) child.stderr.pipe(io.stderr);
    else child.stderr.resume();
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    io.signal.removeEventListener('abort', kill);
    record.exitCode = exitCode;
    finish(record);
    return { exitCode };
  }

  private async produce(record: SessionRecord, io: SessionIO): Promise<{ exitCode: number }> {
    const out = io.stdout!;
    const chunk = Buffer.alloc(16 * 1024);
    while (!io.signal.aborted) {
      if (out.destroyed) break;
      const ok = out.write(chunk);
      record.produced += chunk.length;
      if (!ok) {
        record.pushedBack++;
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done);
            out.off('close', done);
            io.signal.removeEventListener('abort', done);
            resolve();
          };
          out.once('drain', done);
          out.once('close', done);
          io.signal.addEventListener('abort', done, { once: true });
        });
      }
    }
    finish(record);
    return { exitCode: 0 };
  }
}

function finish(record: SessionRecord): void {
  (record as { finish?: () => void }).finish?.();
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
