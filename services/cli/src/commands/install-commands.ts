// `crius install` / `crius uninstall`: put the built program, units,
// config, users, dirs and bus credentials on this node (or under --root),
// and take them away again. Both are idempotent; see install.ts.
import { println, type Command } from '../command.js';
import { install, uninstall } from './install.js';

export const installCommand: Command = {
  name: 'install',
  args: '',
  summary: 'Install crius on this node: program, systemd units, config, users.',
  help: `options:
  --root DIR     install under DIR instead of /
  --no-users     do not create the system users`,
  options: { root: { type: 'string' }, 'no-users': { type: 'boolean' } },
  async run(ctx, v) {
    const root = typeof v.root === 'string' ? v.root : undefined;
    const r = await install({ root, createUsers: v['no-users'] ? false : undefined, log: (l) => println(ctx.stdout, l) });
    println(ctx.stdout, `installed${r.newCredentials.length ? `; new bus credentials for ${r.newCredentials.join(', ')}` : ''}`);
    return 0;
  },
};

export const uninstallCommand: Command = {
  name: 'uninstall',
  args: '',
  summary: 'Remove what `crius install` put on this node (state kept unless --purge).',
  help: `options:
  --root DIR     uninstall from under DIR instead of /
  --purge        also remove state, config and users`,
  options: { root: { type: 'string' }, purge: { type: 'boolean' } },
  async run(ctx, v) {
    await uninstall({ root: typeof v.root === 'string' ? v.root : undefined, purge: v.purge === true, log: (l) => println(ctx.stdout, l) });
    println(ctx.stdout, 'uninstalled');
    return 0;
  },
};
