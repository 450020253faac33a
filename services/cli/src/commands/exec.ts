// `crius exec` runs a command in a container: with ExecSync by default, or
// through the CRI streaming server with -i/-t (Exec's URL over WebSocket), as
// `attach` does with Attach. `port-forward` relays local TCP connections into
// a pod through PortForward's URL.
import { createServer, type Socket } from 'node:net';
import { AttachRequest, ExecRequest, ExecSyncRequest, PortForwardRequest } from '@crius/common/cri';
import { CliError, UsageError, expectArgs, println, type Command, type Ctx, type Values } from '../command.js';
import { TIMEOUT, describeError, resolveContainer, resolvePod, unary } from '../rpc.js';
import { forwardConnection, runRemoteCommand, type RemoteCommandIo } from '../stream-client.js';

const exec: Command = {
  name: 'exec',
  args: 'CONTAINER COMMAND [ARG...]',
  summary: 'Run a command in a running container and exit with its exit code.',
  help: `options (before CONTAINER):
  --timeout S          kill the command after S seconds (ExecSync only; default: none)
  -i, --interactive    pass stdin to the command (streams through the CRI streaming server)
  -t, --tty            allocate a terminal (streams through the CRI streaming server)
  -s, --sync           accepted for crictl compatibility
without -i/-t the command runs through ExecSync and its output comes at the end`,
  options: {
    timeout: { type: 'string' },
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    sync: { type: 'boolean', short: 's' },
  },
  rawAfter: 1,
  async run(ctx, v, pos) {
    const [ref, ...cmd] = pos;
    if (!ref || cmd.length === 0) throw new UsageError('missing CONTAINER COMMAND');
    const timeout = Number(v.timeout ?? 0);
    if (!Number.isInteger(timeout) || timeout < 0) throw new UsageError(`--timeout ${JSON.stringify(v.timeout)}: expected whole seconds`);
    const id = await resolveContainer(ctx, ref);
    if (v.interactive || v.tty) {
      const { stdin, tty } = streamFlags(v);
      const req = ExecRequest.fromPartial({ containerId: id, cmd, stdin, tty, stdout: true, stderr: !tty });
      const { url } = await unary(ctx, 'Exec', (c) => [c.runtime, c.runtime.exec], req);
      return stream(ctx, url, stdin, tty);
    }
    const req = ExecSyncRequest.fromPartial({ containerId: id, cmd, timeout: BigInt(timeout) });
    const callMs = timeout > 0 ? timeout * 1000 + TIMEOUT.short : 24 * 3600_000;
    const r = await unary(ctx, 'ExecSync', (c) => [c.runtime, c.runtime.execSync], req, callMs);
    if (r.stdout.length) ctx.stdout.write(r.stdout);
    if (r.stderr.length) ctx.stderr.write(r.stderr);
    return r.exitCode;
  },
};

const attach: Command = {
  name: 'attach',
  args: 'CONTAINER',
  summary: "Attach to a running container's output (and with -i its stdin).",
  help: `options:
  -i, --interactive    pass stdin to the container (it must have been created with stdin)
  -t, --tty            the container has a terminal (created with tty)
Ctrl-C detaches (unless -t puts the terminal in raw mode).`,
  options: { interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['CONTAINER']);
    const id = await resolveContainer(ctx, pos[0]!);
    const { stdin, tty } = streamFlags(v);
    const req = AttachRequest.fromPartial({ containerId: id, stdin, tty, stdout: true, stderr: !tty });
    const { url } = await unary(ctx, 'Attach', (c) => [c.runtime, c.runtime.attach], req);
    return stream(ctx, url, stdin, tty);
  },
};

function streamFlags(v: Values): { stdin: boolean; tty: boolean } {
  return { stdin: v.interactive === true, tty: v.tty === true };
}

/** Runs an exec/attach session on this process's stdio; a local terminal goes raw for -t and is restored after. */
async function stream(ctx: Ctx, url: string, stdin: boolean, tty: boolean): Promise<number> {
  const input = process.stdin;
  const raw = tty && stdin && input.isTTY;
  const io: RemoteCommandIo = { stdout: process.stdout, stderr: process.stderr, signal: ctx.signal };
  if (stdin) io.stdin = input;
  if (tty && process.stdout.isTTY) {
    io.size = () => ({ width: process.stdout.columns, height: process.stdout.rows });
    io.onResize = (fn) => {
      process.on('SIGWINCH', fn);
      return () => process.off('SIGWINCH', fn);
    };
  }
  if (raw) input.setRawMode(true);
  try {
    return await runRemoteCommand(url, io);
  } finally {
    if (raw) input.setRawMode(false);
  }
}

const portForward: Command = {
  name: 'port-forward',
  args: 'POD [LOCAL:]REMOTE',
  summary: 'Forward a local port on 127.0.0.1 to a port in a pod until Ctrl-C.',
  async run(ctx, _v, pos) {
    expectArgs(pos, ['POD', '[LOCAL:]REMOTE']);
    const { local, remote } = parsePorts(pos[1]!);
    const podSandboxId = await resolvePod(ctx, pos[0]!);
    const server = createServer({ allowHalfOpen: true }, (conn) => void relay(ctx, podSandboxId, remote, conn));
    const conns = new Set<Socket>();
    server.on('connection', (c: Socket) => {
      conns.add(c);
      c.once('close', () => conns.delete(c));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CliError(`port-forward: cannot listen on 127.0.0.1:${local}: ${err.message}`, { cause: err })));
      server.listen(local, '127.0.0.1', () => resolve());
    });
    println(ctx.stdout, `Forwarding from 127.0.0.1:${local} -> ${remote}`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) return resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    for (const c of conns) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return 0;
  },
};

/** One accepted connection: a fresh PortForward URL each, since URLs are single-use. */
async function relay(ctx: Ctx, podSandboxId: string, port: number, conn: Socket): Promise<void> {
  conn.on('error', () => undefined); // a reset by the local client just ends this relay
  const report = (msg: string) => ctx.stderr.write(`crius port-forward: ${msg.trim()}\n`);
  try {
    const req = PortForwardRequest.fromPartial({ podSandboxId, port: [port] });
    const { url } = await unary(ctx, 'PortForward', (c) => [c.runtime, c.runtime.portForward], req);
    await forwardConnection(url, port, conn, report);
  } catch (err) {
    report(describeError(err, ctx.endpoint()));
    conn.destroy();
  }
}

/** "8080" or "18080:80" → local and remote ports. */
export function parsePorts(spec: string): { local: number; remote: number } {
  const parts = spec.split(':');
  const nums = parts.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  if (parts.length > 2 || nums.some((n) => !(n >= 1 && n <= 65535))) {
    throw new UsageError(`${JSON.stringify(spec)}: expected PORT or LOCAL:REMOTE with ports 1-65535`);
  }
  return { local: nums[0]!, remote: nums[nums.length - 1]! };
}

export const execCommands: Command[] = [exec, attach, portForward];
