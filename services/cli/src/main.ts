// The `crius` command: stack control (up, down, status, config) and
// crictl-like CRI commands against our gateway or any CRI endpoint
// (--endpoint). This file is only the command table and the dispatch.
import { UsageError, commandUsage, makeContext, parseCommandArgs, splitCommand, type Command } from './command.js';
import { describeError } from './rpc.js';
import { stackCommands } from './commands/stack-control.js';
import { imageCommands } from './commands/images.js';
import { podCommands } from './commands/pods.js';
import { containerCommands } from './commands/containers.js';
import { logsCommand } from './commands/logs.js';
import { execCommands } from './commands/exec.js';
import { statsCommand } from './commands/stats.js';
import { eventsCommand } from './commands/events.js';
import { runCommand } from './commands/run.js';
import { doctorCommand } from './commands/doctor.js';
import { installCommand, uninstallCommand } from './commands/install-commands.js';

/** Every command, in the groups `crius --help` shows. */
const GROUPS: [string, Command[]][] = [
  ['stack', stackCommands],
  ['images', imageCommands],
  ['pods', podCommands],
  ['containers', [...containerCommands, logsCommand, ...execCommands, statsCommand, eventsCommand, runCommand]],
  ['node', [doctorCommand, installCommand, uninstallCommand]],
];

const COMMANDS = new Map(GROUPS.flatMap(([, cmds]) => cmds.map((c) => [c.name, c] as const)));

function usage(): string {
  const width = Math.max(...[...COMMANDS.values()].map((c) => c.name.length)) + 2;
  const sections = GROUPS.map(([title, cmds]) => `${title}:\n${cmds.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}`);
  return `usage: crius [--config FILE] [--endpoint SOCKET] <command> [options] [args]

${sections.join('\n\n')}

Run \`crius <command> -h\` for the options of a command.
--endpoint takes a socket path or unix:// URL of any CRI runtime (e.g. containerd).
`;
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const { name, rest } = splitCommand(argv);
  const cmd = name === undefined ? undefined : COMMANDS.get(name);
  if (!cmd) {
    const help = argv.includes('-h') || argv.includes('--help');
    if (name !== undefined) process.stderr.write(`crius: unknown command ${JSON.stringify(name)}\n\n`);
    (name === undefined && help ? process.stdout : process.stderr).write(usage());
    return name === undefined && help ? 0 : 2;
  }
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(cmd, rest);
  } catch (err) {
    process.stderr.write(`crius ${cmd.name}: ${(err as Error).message}\n${commandUsage(cmd)}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(commandUsage(cmd));
    return 0;
  }
  const ctx = makeContext({ config: parsed.values.config as string | undefined, endpoint: parsed.values.endpoint as string | undefined }, signal);
  try {
    return await cmd.run(ctx, parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`crius ${cmd.name}: ${err.message}\n${commandUsage(cmd)}`);
      return 2;
    }
    let endpoint = '';
    try {
      endpoint = ctx.endpoint();
    } catch {
      // the config itself failed to load; the error says so
    }
    process.stderr.write(`crius: ${describeError(err, endpoint)}\n`);
    return 1;
  } finally {
    ctx.close();
  }
}

const abort = new AbortController();
let interrupted = 0;
const onSignal = () => {
  // First Ctrl-C ends streaming commands cleanly; a second one exits at once.
  if (interrupted++ > 0) process.exit(130);
  abort.abort();
};

// `crius up` installs its own handlers; the others end their streams on the abort.
if (splitCommand(process.argv.slice(2)).name !== 'up') {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0); // `crius logs x | head`
});

main(process.argv.slice(2), abort.signal).then(
  // Exit explicitly: a gRPC channel or bus connection must not keep a finished command alive.
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`crius: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
