// The shape of a `crius` subcommand and the context it runs in: global
// options, the lazily loaded config, one lazily opened CRI connection, and
// argument parsing (node:util parseArgs) shared by every command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type CriusConfig } from '@crius/common';
import { connectCri, type CriClient } from './cri-client.js';

/** Bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** A failure already explained in one line: printed as is, exit code 1. */
export class CliError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface Output {
  write(text: string | Uint8Array): unknown;
  isTTY?: boolean;
}

export interface Ctx {
  readonly configPath?: string;
  config(): CriusConfig;
  /** The CRI endpoint: --endpoint, else the config's api.listen. */
  endpoint(): string;
  cri(): CriClient;
  stdout: Output;
  stderr: Output;
  /** Aborted on Ctrl-C / SIGTERM so streaming commands end cleanly. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** Positional arguments as shown in usage, e.g. "POD-ID CTR-CONFIG POD-CONFIG". */
  args: string;
  summary: string;
  /** Option lines for `crius <cmd> -h`. */
  help?: string;
  options?: Options;
  /** Stop parsing options after this many positionals (the rest is a command line, as for exec). */
  rawAfter?: number;
  /** Exit code; -1 keeps the process running (crius up). */
  run(ctx: Ctx, values: Values, positionals: string[]): Promise<number>;
}

export const GLOBAL_OPTIONS: Options = {
  config: { type: 'string' },
  endpoint: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Where the command name sits in argv (global options may come first). */
export function splitCommand(argv: string[]): { name?: string; rest: string[] } {
  const { tokens } = parseArgs({ args: argv, options: GLOBAL_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (!first || first.kind !== 'positional') return { rest: argv };
  return { name: first.value, rest: [...argv.slice(0, first.index), ...argv.slice(first.index + 1)] };
}

/** Parses a command's own options (and the global ones, anywhere). */
export function parseCommandArgs(cmd: Command, args: string[]): { values: Values; positionals: string[] } {
  const options = { ...GLOBAL_OPTIONS, ...cmd.options };
  let head = args;
  let tail: string[] = [];
  if (cmd.rawAfter !== undefined) {
    const cut = rawCut(args, options, cmd.rawAfter);
    head = args.slice(0, cut.index);
    tail = args.slice(cut.index + cut.skip);
  }
  try {
    const { values, positionals } = parseArgs({ args: head, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals: [...positionals, ...tail] };
  } catch (err) {
    // node's message goes on about '--' for positionals; the first sentence is the point.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

/** Index of the first argument after `count` positionals, or of a `--`. */
function rawCut(args: string[], options: Options, count: number): { index: number; skip: number } {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  let seen = 0;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') return { index: t.index, skip: 1 };
    if (t.kind === 'positional' && seen++ === count) return { index: t.index, skip: 0 };
  }
  return { index: args.length, skip: 0 };
}

export function commandUsage(cmd: Command): string {
  const lines = [`usage: crius ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}`, '', cmd.summary];
  if (cmd.help) lines.push('', cmd.help.trimEnd());
  return lines.join('\n') + '\n';
}

export function makeContext(global: { config?: string; endpoint?: string }, signal: AbortSignal): Ctx & { close(): void } {
  let cfg: CriusConfig | undefined;
  let client: CriClient | undefined;
  const ctx = {
    configPath: global.config,
    config: () => (cfg ??= loadConfig(global.config)),
    endpoint: () => global.endpoint ?? ctx.config().api.listen,
    cri: () => (client ??= connectCri(ctx.endpoint())),
    stdout: process.stdout,
    stderr: process.stderr,
    signal,
    close: () => client?.close(),
  };
  return ctx;
}

/** Exactly `n` positionals (or at least `min`), else a usage error naming what is missing. */
export function expectArgs(positionals: string[], names: string[], opts: { variadic?: boolean } = {}): void {
  if (positionals.length < names.length) throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`);
  if (!opts.variadic && positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`);
}

export function println(out: Output, text = ''): void {
  out.write(text + '\n');
}
