// `crius doctor`: checks this node for what crius needs (OCI runtimes,
// conmon, CNI, nats-server, cgroups, overlayfs, kernel features, the CRI
// socket) and, when the stack is up, asks it through Status; says what to fix.
import { execFile } from 'node:child_process';
import { access, constants, readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { println, type Command, type Ctx } from '../command.js';
import { REPO_ROOT } from '../launcher/stack.js';
import { describeError } from '../rpc.js';
import { machineOutput, outputFormat } from '../format.js';
import { fetchStatus } from './status.js';
import {
  checkCgroups,
  checkCni,
  checkConmon,
  checkKernel,
  checkNats,
  checkOverlay,
  checkPause,
  checkRuntimes,
  checkSocket,
  formatFindings,
  statusFindings,
  type Finding,
  type NodeProbe,
} from './doctor-checks.js';

const run = promisify(execFile);

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** The real node. */
export const hostProbe: NodeProbe = {
  async which(program) {
    if (program.includes('/')) return (await isExecutable(program)) ? program : undefined;
    for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
      const candidate = path.join(dir, program);
      if (dir && (await isExecutable(candidate))) return candidate;
    }
    return undefined;
  },
  async version(program, args) {
    try {
      const { stdout, stderr } = await run(program, args, { timeout: 5000 });
      return `${stdout}\n${stderr}`.split('\n').find((l) => l.trim())?.trim();
    } catch {
      return undefined;
    }
  },
  read: (file) => readFile(file, 'utf8').catch(() => undefined),
  list: (dir) => readdir(dir).catch(() => undefined),
  async stat(file) {
    const st = await stat(file).catch(() => undefined);
    return st && { mode: st.mode, isSocket: st.isSocket(), uid: st.uid, gid: st.gid };
  },
  kernelRelease: () => os.release(),
};

async function serviceFindings(ctx: Ctx): Promise<Finding[]> {
  try {
    const s = await fetchStatus(ctx.cri());
    return statusFindings(s.status?.conditions ?? [], s.info);
  } catch (err) {
    return [{ name: 'services', level: 'fail', detail: describeError(err, ctx.endpoint()), fix: 'crius up' }];
  }
}

export async function diagnose(ctx: Ctx, probe: NodeProbe = hostProbe): Promise<Finding[]> {
  const cfg = ctx.config();
  const socket = ctx.endpoint().replace(/^unix:\/\//, '');
  const node = [
    ...(await checkRuntimes(probe, cfg)),
    await checkConmon(probe, cfg, REPO_ROOT),
    await checkPause(probe),
    await checkNats(probe, cfg),
    ...(await checkCni(probe, cfg)),
    await checkCgroups(probe, cfg),
    await checkOverlay(probe),
    ...(await checkKernel(probe)),
  ];
  const sock = await checkSocket(probe, socket, cfg.api.socket_mode);
  // Without a socket the stack is simply not running: say so once instead of a failing Status.
  const services = (await probe.stat(socket)) ? await serviceFindings(ctx) : [];
  return [...node, sock, ...services];
}

export const doctorCommand: Command = {
  name: 'doctor',
  args: '',
  summary: 'Check this node for what crius needs and say what to fix.',
  help: `options:
  -o, --output FMT   text (default), json or yaml`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v) {
    const format = outputFormat(v.output === 'text' ? undefined : v.output, 'table');
    const findings = await diagnose(ctx);
    const failed = findings.filter((f) => f.level === 'fail').length;
    const warned = findings.filter((f) => f.level === 'warn').length;
    const machine = machineOutput({ findings }, format);
    if (machine !== undefined) println(ctx.stdout, machine);
    else {
      println(ctx.stdout, formatFindings(findings));
      println(ctx.stdout, `\n${failed ? `${failed} problem(s) to fix` : 'crius can run on this node'}${warned ? `, ${warned} warning(s)` : ''}.`);
    }
    return failed ? 1 : 0;
  },
};
