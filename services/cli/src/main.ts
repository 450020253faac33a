// The `crius` command: stack control (up, down, status, config) and CRI
// calls against any endpoint.
import { parseArgs } from 'node:util';
import { stringify } from 'smol-toml';
import { loadConfig } from '@crius/common';
import { connectCri, callUnary } from './cri-client.js';
import { up, down } from './commands/up.js';
import { fetchStatus, formatStatus } from './commands/status.js';

const USAGE = `usage: crius [--config FILE] [--endpoint SOCKET] <command>

commands:
  up [--demo]   start nats-server, every service and the gateway (foreground)
  down          stop a running \`crius up\`
  status        health of every service, through the CRI socket
  config        print the effective configuration
  version       CRI Version of the endpoint
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      endpoint: { type: 'string' },
      demo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const cfg = loadConfig(values.config);
  const endpoint = values.endpoint ?? cfg.api.listen;
  switch (command) {
    case 'up':
      await up(cfg, values.config, { demo: values.demo ?? false });
      return -1; // keeps running until signalled
    case 'down':
      console.log((await down(cfg)) ? 'crius stopped' : 'crius is not running');
      return 0;
    case 'config':
      process.stdout.write(stringify(cfg) + '\n');
      return 0;
    case 'status':
    case 'version': {
      const cri = connectCri(endpoint);
      try {
        if (command === 'status') console.log(formatStatus(await fetchStatus(cri)));
        else {
          const v = await callUnary(cri.runtime, cri.runtime.version, { version: 'v1' }, 5000);
          console.log(`${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`);
        }
      } catch (err) {
        console.error(`crius: ${cri.endpoint}: ${(err as Error).message} (is the stack up? try \`crius up\`)`);
        return 1;
      } finally {
        cri.close();
      }
      return 0;
    }
    default:
      console.error(`crius: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    console.error(`crius: ${(err as Error).message}`);
    process.exit(1);
  },
);
