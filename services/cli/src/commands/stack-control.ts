// Commands about the crius stack itself: up, down, config, status, and the
// CRI Version and Status calls (version, info) that work on any endpoint.
import { stringify } from 'smol-toml';
import { VersionRequest } from '@crius/common/cri';
import { expectArgs, println, type Command } from '../command.js';
import { decodeInfo, machineOutput, outputFormat } from '../format.js';
import { call, unary } from '../rpc.js';
import { fetchStatus, formatStatus } from './status.js';
import { down, up } from './up.js';

const upCommand: Command = {
  name: 'up',
  args: '',
  summary: 'Start nats-server, every service and the gateway (foreground).',
  help: `options:
  --demo   show it working: Version, Status, then a busybox httpd pod
           from an imported image, whose page is fetched and printed`,
  options: { demo: { type: 'boolean' } },
  async run(ctx, v) {
    await up(ctx.config(), ctx.configPath, { demo: v.demo === true });
    return -1; // keeps running until signalled
  },
};

const downCommand: Command = {
  name: 'down',
  args: '',
  summary: 'Stop a running `crius up`.',
  async run(ctx) {
    println(ctx.stdout, (await down(ctx.config())) ? 'crius stopped' : 'crius is not running');
    return 0;
  },
};

const configCommand: Command = {
  name: 'config',
  args: '',
  summary: 'Print the effective configuration.',
  async run(ctx) {
    ctx.stdout.write(stringify(ctx.config()) + '\n');
    return 0;
  },
};

const statusCommand: Command = {
  name: 'status',
  args: '',
  summary: 'Health of every service, through the CRI socket.',
  async run(ctx) {
    println(ctx.stdout, formatStatus(await call(ctx, 'Status', (c) => fetchStatus(c))));
    return 0;
  },
};

const versionCommand: Command = {
  name: 'version',
  args: '',
  summary: 'CRI Version of the endpoint.',
  help: `options:
  -o, --output FMT   text (default), json or yaml`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v, pos) {
    expectArgs(pos, []);
    const format = outputFormat(v.output === 'text' ? undefined : v.output, 'table');
    const r = await unary(ctx, 'Version', (c) => [c.runtime, c.runtime.version], VersionRequest.fromPartial({ version: 'v1' }), 5000);
    println(ctx.stdout, machineOutput(r, format) ?? `${r.runtimeName} ${r.runtimeVersion} (CRI ${r.runtimeApiVersion})`);
    return 0;
  },
};

const infoCommand: Command = {
  name: 'info',
  args: '',
  summary: 'Runtime conditions and details of the endpoint (Status, verbose).',
  help: `options:
  -o, --output FMT   json (default) or yaml`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v, pos) {
    expectArgs(pos, []);
    const format = outputFormat(v.output, 'json');
    const r = await call(ctx, 'Status', (c) => fetchStatus(c));
    println(ctx.stdout, machineOutput({ status: r.status, info: decodeInfo(r.info) }, format === 'table' ? 'json' : format)!);
    return 0;
  },
};

export const stackCommands: Command[] = [upCommand, downCommand, configCommand, statusCommand, versionCommand, infoCommand];
