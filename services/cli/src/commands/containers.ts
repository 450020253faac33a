// Container commands: create, start, stop, rm, ps, inspect — CRI
// RuntimeService calls; ids may be short prefixes or container names.
import {
  ContainerConfig,
  ContainerState,
  CreateContainerRequest,
  PodSandboxConfig,
  RemoveContainerRequest,
  StartContainerRequest,
  StopContainerRequest,
  containerStateToJSON,
  type Container,
  type ContainerStatusResponse,
} from '@crius/common/cri';
import { CliError, UsageError, expectArgs, println, type Command, type Ctx, type Values } from '../command.js';
import { age, decodeInfo, machineOutput, newestFirst, outputFormat, parseLabels, table, truncId } from '../format.js';
import { TIMEOUT, containerStatus, eachArg, listContainers, listPods, resolveContainer, resolvePod, unary } from '../rpc.js';
import { loadSpecFile } from '../spec-files.js';
import { ensureImage, parseCreds } from './images.js';

const STATES: Record<string, ContainerState> = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
  unknown: ContainerState.CONTAINER_UNKNOWN,
};

export const containerStateName = (s: ContainerState) => Object.keys(STATES).find((k) => STATES[k] === s)?.replace(/^./, (c) => c.toUpperCase()) ?? 'Unknown';

export async function createContainer(ctx: Ctx, podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
  const req = CreateContainerRequest.fromPartial({ podSandboxId, config, sandboxConfig });
  return (await unary(ctx, 'CreateContainer', (c) => [c.runtime, c.runtime.createContainer], req, TIMEOUT.sandbox)).containerId;
}

export async function startContainer(ctx: Ctx, id: string): Promise<void> {
  await unary(ctx, 'StartContainer', (c) => [c.runtime, c.runtime.startContainer], StartContainerRequest.fromPartial({ containerId: id }), TIMEOUT.sandbox);
}

async function stopContainer(ctx: Ctx, id: string, timeout: number): Promise<void> {
  const req = StopContainerRequest.fromPartial({ containerId: id, timeout: BigInt(timeout) });
  await unary(ctx, 'StopContainer', (c) => [c.runtime, c.runtime.stopContainer], req, TIMEOUT.short + timeout * 1000);
}

function statusPlain(r: ContainerStatusResponse) {
  return { status: r.status && { ...r.status, state: containerStateToJSON(r.status.state) }, info: decodeInfo(r.info) };
}

async function selectContainers(ctx: Ctx, v: Values): Promise<Container[]> {
  const flag = v.state as string | undefined;
  const state = flag === undefined ? undefined : STATES[flag.toLowerCase()];
  if (flag !== undefined && state === undefined) throw new UsageError(`--state ${JSON.stringify(flag)}: expected one of ${Object.keys(STATES).join(', ')}`);
  const podSandboxId = typeof v.pod === 'string' ? await resolvePod(ctx, v.pod) : '';
  const labelSelector = parseLabels(v.label as string[] | undefined);
  const running = state === undefined && !v.all && typeof v.id !== 'string' ? { state: ContainerState.CONTAINER_RUNNING } : undefined;
  let list = await listContainers(ctx, { filter: { id: '', podSandboxId, labelSelector, state: state === undefined ? running : { state } } });
  if (typeof v.id === 'string') list = list.filter((c) => c.id.startsWith(v.id as string));
  if (typeof v.name === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(v.name);
    } catch {
      throw new UsageError(`--name ${JSON.stringify(v.name)}: not a valid regular expression`);
    }
    list = list.filter((c) => re.test(c.metadata?.name ?? ''));
  }
  if (typeof v.image === 'string') list = list.filter((c) => [c.image?.image, c.imageRef, c.imageId].some((i) => i && (i === v.image || i.startsWith(v.image as string))));
  return newestFirst(list, { latest: v.latest === true, last: v.last as string | undefined });
}

const create: Command = {
  name: 'create',
  args: 'POD CTR-CONFIG POD-CONFIG',
  summary: 'Create a container in a pod from config files (pulls the image if missing); prints its id.',
  help: `options:
  --no-pull             fail instead of pulling a missing image
  --creds USER[:PASS]   registry credentials for the pull`,
  options: { 'no-pull': { type: 'boolean' }, creds: { type: 'string' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['POD', 'CTR-CONFIG', 'POD-CONFIG']);
    const config = await loadSpecFile(pos[1]!, ContainerConfig);
    const sandbox = await loadSpecFile(pos[2]!, PodSandboxConfig);
    const podId = await resolvePod(ctx, pos[0]!);
    if (!v['no-pull'] && config.image?.image) await ensureImage(ctx, config.image.image, { auth: parseCreds(v.creds), sandboxConfig: sandbox, progress: true });
    println(ctx.stdout, await createContainer(ctx, podId, config, sandbox));
    return 0;
  },
};

const start: Command = {
  name: 'start',
  args: 'CONTAINER...',
  summary: 'Start created containers.',
  async run(ctx, _v, pos) {
    expectArgs(pos, ['CONTAINER'], { variadic: true });
    return eachArg(ctx, pos, async (ref) => {
      const id = await resolveContainer(ctx, ref);
      await startContainer(ctx, id);
      println(ctx.stdout, id);
    });
  },
};

function timeoutFlag(v: Values): number {
  const t = Number(v.timeout ?? 0);
  if (!Number.isInteger(t) || t < 0) throw new UsageError(`--timeout ${JSON.stringify(v.timeout)}: expected whole seconds`);
  return t;
}

const stop: Command = {
  name: 'stop',
  args: 'CONTAINER...',
  summary: 'Stop running containers.',
  help: `options:
  -t, --timeout S   seconds between the stop signal and SIGKILL (default 0)`,
  options: { timeout: { type: 'string', short: 't' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['CONTAINER'], { variadic: true });
    const timeout = timeoutFlag(v);
    return eachArg(ctx, pos, async (ref) => {
      const id = await resolveContainer(ctx, ref);
      await stopContainer(ctx, id, timeout);
      println(ctx.stdout, id);
    });
  },
};

const rm: Command = {
  name: 'rm',
  args: 'CONTAINER...',
  summary: 'Remove containers.',
  help: `options:
  -f, --force   stop a running container first
  -a, --all     remove every container`,
  options: { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } },
  async run(ctx, v, pos) {
    if (!v.all) expectArgs(pos, ['CONTAINER'], { variadic: true });
    const refs = v.all ? (await listContainers(ctx)).map((c) => c.id) : pos;
    return eachArg(ctx, refs, async (ref) => {
      const id = await resolveContainer(ctx, ref);
      const state = (await containerStatus(ctx, id)).status?.state;
      if (state === ContainerState.CONTAINER_RUNNING) {
        if (!v.force) throw new CliError(`container ${id} is running: stop it first (crius stop) or use -f`);
        await stopContainer(ctx, id, 0);
      }
      await unary(ctx, 'RemoveContainer', (c) => [c.runtime, c.runtime.removeContainer], RemoveContainerRequest.fromPartial({ containerId: id }), TIMEOUT.sandbox);
      println(ctx.stdout, id);
    });
  },
};

const ps: Command = {
  name: 'ps',
  args: '',
  summary: 'List containers (running ones unless -a), newest first.',
  help: `options:
  -a, --all            containers in every state
  --id PREFIX          containers whose id starts with PREFIX
  --name REGEX         containers whose name matches
  -p, --pod POD        containers of one pod
  --label KEY=VALUE    containers with this label (repeatable)
  --state STATE        created, running, exited or unknown
  --image IMAGE        containers of this image
  -l, --latest         only the newest container
  -n, --last N         only the N newest containers
  -q, --quiet          only ids
  --no-trunc           full ids
  -o, --output FMT     table (default), json or yaml`,
  options: {
    all: { type: 'boolean', short: 'a' },
    id: { type: 'string' },
    name: { type: 'string' },
    pod: { type: 'string', short: 'p' },
    label: { type: 'string', multiple: true },
    state: { type: 'string' },
    image: { type: 'string' },
    latest: { type: 'boolean', short: 'l' },
    last: { type: 'string', short: 'n' },
    quiet: { type: 'boolean', short: 'q' },
    'no-trunc': { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  },
  async run(ctx, v, pos) {
    expectArgs(pos, []);
    const format = outputFormat(v.output, 'table');
    const list = await selectContainers(ctx, v);
    const machine = machineOutput({ containers: list.map((c) => ({ ...c, state: containerStateToJSON(c.state) })) }, format);
    if (machine !== undefined) println(ctx.stdout, machine);
    else if (v.quiet) list.forEach((c) => println(ctx.stdout, c.id));
    else {
      const noTrunc = v['no-trunc'] === true;
      const podNames = new Map((list.length ? await listPods(ctx) : []).map((p) => [p.id, p.metadata?.name ?? '']));
      const rows = list.map((c) => [
        truncId(c.id, noTrunc),
        c.image?.image || truncId(c.imageRef, noTrunc),
        age(c.createdAt),
        containerStateName(c.state),
        c.metadata?.name ?? '',
        String(c.metadata?.attempt ?? 0),
        truncId(c.podSandboxId, noTrunc),
        podNames.get(c.podSandboxId) ?? '',
      ]);
      println(ctx.stdout, table(['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD'], rows));
    }
    return 0;
  },
};

const inspect: Command = {
  name: 'inspect',
  args: 'CONTAINER...',
  summary: 'Show the status of containers (ContainerStatus, verbose).',
  help: `options:
  -o, --output FMT   json (default), yaml or table`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['CONTAINER'], { variadic: true });
    const format = outputFormat(v.output, 'json');
    return eachArg(ctx, pos, async (ref) => {
      const r = await containerStatus(ctx, await resolveContainer(ctx, ref), true);
      const s = r.status;
      const summary = s
        ? [
            `ID:        ${s.id}`,
            `Name:      ${s.metadata?.name ?? ''}`,
            `State:     ${containerStateName(s.state)}`,
            `Created:   ${age(s.createdAt)}`,
            `Started:   ${age(s.startedAt)}`,
            ...(s.state === ContainerState.CONTAINER_EXITED ? [`Finished:  ${age(s.finishedAt)}`, `Exit code: ${s.exitCode} (${s.reason})`] : []),
            `Image:     ${s.image?.image ?? ''} (${s.imageRef})`,
            `Log:       ${s.logPath}`,
          ].join('\n')
        : '';
      println(ctx.stdout, machineOutput(statusPlain(r), format) ?? summary);
    });
  },
};

export const containerCommands: Command[] = [create, start, stop, rm, ps, inspect];
