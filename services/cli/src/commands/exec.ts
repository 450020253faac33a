// `crius exec` runs a command in a container with ExecSync and exits with its
// exit code. Interactive exec, attach and port-forward go through the CRI
// streaming server, which crius does not have yet: they say so clearly.
import { ExecSyncRequest } from '@crius/common/cri';
import { CliError, UsageError, type Command } from '../command.js';
import { TIMEOUT, resolveContainer, unary } from '../rpc.js';

const NO_STREAMING = 'needs the CRI streaming server (Exec/Attach/PortForward URLs), which crius does not have yet';

const exec: Command = {
  name: 'exec',
  args: 'CONTAINER COMMAND [ARG...]',
  summary: 'Run a command in a running container and exit with its exit code (ExecSync).',
  help: `options (before CONTAINER):
  --timeout S          kill the command after S seconds (default: none)
  -i, --interactive    keep stdin open   (not yet: needs the streaming server)
  -t, --tty            allocate a TTY     (not yet: needs the streaming server)
  -s, --sync           accepted for crictl compatibility (exec is always synchronous)`,
  options: {
    timeout: { type: 'string' },
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    sync: { type: 'boolean', short: 's' },
  },
  rawAfter: 1,
  async run(ctx, v, pos) {
    if (v.interactive || v.tty) throw new CliError(`exec -i/-t ${NO_STREAMING}; without -i/-t the command runs through ExecSync`);
    const [ref, ...cmd] = pos;
    if (!ref || cmd.length === 0) throw new UsageError('missing CONTAINER COMMAND');
    const timeout = Number(v.timeout ?? 0);
    if (!Number.isInteger(timeout) || timeout < 0) throw new UsageError(`--timeout ${JSON.stringify(v.timeout)}: expected whole seconds`);
    const id = await resolveContainer(ctx, ref);
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
  summary: 'Attach to a running container (not yet: needs the streaming server).',
  options: { interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' } },
  async run() {
    throw new CliError(`attach ${NO_STREAMING}; use \`crius logs -f\` to follow its output`);
  },
};

const portForward: Command = {
  name: 'port-forward',
  args: 'POD [LOCAL:]REMOTE...',
  summary: 'Forward local ports to a pod (not yet: needs the streaming server).',
  async run() {
    throw new CliError(`port-forward ${NO_STREAMING}; a pod port can be published with port_mappings in its config`);
  },
};

export const execCommands: Command[] = [exec, attach, portForward];
