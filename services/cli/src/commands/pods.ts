// Pod sandbox commands: runp, pods, inspectp, stopp, rmp — CRI RuntimeService
// calls; ids may be given as the short prefixes the tables show.
import {
  PodSandboxConfig,
  PodSandboxState,
  PodSandboxStatusRequest,
  RemovePodSandboxRequest,
  RunPodSandboxRequest,
  StopPodSandboxRequest,
  containerStateToJSON,
  podSandboxStateToJSON,
  type PodSandbox,
  type PodSandboxStatusResponse,
} from '@crius/common/cri';
import { CliError, UsageError, expectArgs, println, type Command, type Ctx, type Values } from '../command.js';
import { age, decodeInfo, machineOutput, newestFirst, outputFormat, parseLabels, table, truncId } from '../format.js';
import { TIMEOUT, eachArg, listPods, resolvePod, unary } from '../rpc.js';
import { loadSpecFile } from '../spec-files.js';

export const podStateName = (s: PodSandboxState) => (s === PodSandboxState.SANDBOX_READY ? 'Ready' : 'NotReady');

export async function runPod(ctx: Ctx, config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
  const req = RunPodSandboxRequest.fromPartial({ config, runtimeHandler });
  return (await unary(ctx, 'RunPodSandbox', (c) => [c.runtime, c.runtime.runPodSandbox], req, TIMEOUT.sandbox)).podSandboxId;
}

export async function stopPod(ctx: Ctx, id: string): Promise<void> {
  await unary(ctx, 'StopPodSandbox', (c) => [c.runtime, c.runtime.stopPodSandbox], StopPodSandboxRequest.fromPartial({ podSandboxId: id }), TIMEOUT.sandbox);
}

export async function removePod(ctx: Ctx, id: string): Promise<void> {
  await unary(ctx, 'RemovePodSandbox', (c) => [c.runtime, c.runtime.removePodSandbox], RemovePodSandboxRequest.fromPartial({ podSandboxId: id }), TIMEOUT.sandbox);
}

function podStatePlain(p: PodSandbox) {
  return { ...p, state: podSandboxStateToJSON(p.state) };
}

function statusPlain(r: PodSandboxStatusResponse) {
  return {
    status: r.status && { ...r.status, state: podSandboxStateToJSON(r.status.state) },
    info: decodeInfo(r.info),
    ...(r.containersStatuses.length ? { containersStatuses: r.containersStatuses.map((c) => ({ ...c, state: containerStateToJSON(c.state) })) } : {}),
  };
}

function matches(pattern: unknown, value: string | undefined): boolean {
  if (typeof pattern !== 'string') return true;
  try {
    return new RegExp(pattern).test(value ?? '');
  } catch {
    throw new UsageError(`${JSON.stringify(pattern)}: not a valid regular expression`);
  }
}

async function selectPods(ctx: Ctx, v: Values): Promise<PodSandbox[]> {
  const stateFlag = v.state as string | undefined;
  let state: PodSandboxState | undefined;
  if (stateFlag !== undefined) {
    const s = stateFlag.toLowerCase();
    if (s !== 'ready' && s !== 'notready') throw new UsageError(`--state ${JSON.stringify(stateFlag)}: expected ready or notready`);
    state = s === 'ready' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
  }
  const labelSelector = parseLabels(v.label as string[] | undefined);
  let pods = await listPods(ctx, { filter: { id: '', labelSelector, state: state === undefined ? undefined : { state } } });
  // The id filter is a prefix here (tables show short ids); name and namespace are regular expressions.
  if (typeof v.id === 'string') pods = pods.filter((p) => p.id.startsWith(v.id as string));
  pods = pods.filter((p) => matches(v.name, p.metadata?.name) && matches(v.namespace, p.metadata?.namespace));
  return newestFirst(pods, { latest: v.latest === true, last: v.last as string | undefined });
}

const runp: Command = {
  name: 'runp',
  args: 'POD-CONFIG',
  summary: 'Run a pod sandbox from a config file (JSON or YAML, as crictl accepts); prints its id.',
  help: `options:
  -r, --runtime HANDLER   runtime handler (RuntimeClass), e.g. crun`,
  options: { runtime: { type: 'string', short: 'r' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['POD-CONFIG']);
    const config = await loadSpecFile(pos[0]!, PodSandboxConfig);
    println(ctx.stdout, await runPod(ctx, config, (v.runtime as string) ?? ''));
    return 0;
  },
};

const pods: Command = {
  name: 'pods',
  args: '',
  summary: 'List pod sandboxes, newest first.',
  help: `options:
  --id PREFIX          pods whose id starts with PREFIX
  --name REGEX         pods whose name matches
  --namespace REGEX    pods whose namespace matches
  --label KEY=VALUE    pods with this label (repeatable)
  -s, --state STATE    ready or notready
  -l, --latest         only the newest pod
  -n, --last N         only the N newest pods
  -q, --quiet          only ids
  --no-trunc           full ids
  -o, --output FMT     table (default), json or yaml`,
  options: {
    id: { type: 'string' },
    name: { type: 'string' },
    namespace: { type: 'string' },
    label: { type: 'string', multiple: true },
    state: { type: 'string', short: 's' },
    latest: { type: 'boolean', short: 'l' },
    last: { type: 'string', short: 'n' },
    quiet: { type: 'boolean', short: 'q' },
    'no-trunc': { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  },
  async run(ctx, v, pos) {
    expectArgs(pos, []);
    const format = outputFormat(v.output, 'table');
    const list = await selectPods(ctx, v);
    const machine = machineOutput({ items: list.map(podStatePlain) }, format);
    if (machine !== undefined) println(ctx.stdout, machine);
    else if (v.quiet) list.forEach((p) => println(ctx.stdout, p.id));
    else {
      const noTrunc = v['no-trunc'] === true;
      const rows = list.map((p) => [
        truncId(p.id, noTrunc),
        age(p.createdAt),
        podStateName(p.state),
        p.metadata?.name ?? '',
        p.metadata?.namespace ?? '',
        String(p.metadata?.attempt ?? 0),
        p.runtimeHandler || '(default)',
      ]);
      println(ctx.stdout, table(['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME'], rows));
    }
    return 0;
  },
};

const inspectp: Command = {
  name: 'inspectp',
  args: 'POD...',
  summary: 'Show the status of pod sandboxes (PodSandboxStatus, verbose).',
  help: `options:
  -o, --output FMT   json (default), yaml or table`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['POD'], { variadic: true });
    const format = outputFormat(v.output, 'json');
    return eachArg(ctx, pos, async (ref) => {
      const id = await resolvePod(ctx, ref);
      const req = PodSandboxStatusRequest.fromPartial({ podSandboxId: id, verbose: true });
      const r = await unary(ctx, 'PodSandboxStatus', (c) => [c.runtime, c.runtime.podSandboxStatus], req);
      const s = r.status;
      const summary = s
        ? [
            `ID:         ${s.id}`,
            `Name:       ${s.metadata?.name ?? ''}`,
            `Namespace:  ${s.metadata?.namespace ?? ''}`,
            `State:      ${podStateName(s.state)}`,
            `Created:    ${age(s.createdAt)}`,
            `IP:         ${[s.network?.ip, ...(s.network?.additionalIps ?? []).map((a) => a.ip)].filter(Boolean).join(', ')}`,
            `Runtime:    ${s.runtimeHandler || '(default)'}`,
          ].join('\n')
        : '';
      println(ctx.stdout, machineOutput(statusPlain(r), format) ?? summary);
    });
  },
};

const stopp: Command = {
  name: 'stopp',
  args: 'POD...',
  summary: 'Stop pod sandboxes (their containers are stopped too).',
  async run(ctx, _v, pos) {
    expectArgs(pos, ['POD'], { variadic: true });
    return eachArg(ctx, pos, async (ref) => {
      const id = await resolvePod(ctx, ref);
      await stopPod(ctx, id);
      println(ctx.stdout, `Stopped sandbox ${id}`);
    });
  },
};

const rmp: Command = {
  name: 'rmp',
  args: 'POD...',
  summary: 'Remove pod sandboxes.',
  help: `options:
  -f, --force   stop a ready pod first
  -a, --all     remove every pod`,
  options: { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } },
  async run(ctx, v, pos) {
    if (!v.all) expectArgs(pos, ['POD'], { variadic: true });
    const all = await listPods(ctx);
    const refs = v.all ? all.map((p) => p.id) : pos;
    return eachArg(ctx, refs, async (ref) => {
      const id = await resolvePod(ctx, ref);
      const ready = all.find((p) => p.id === id)?.state === PodSandboxState.SANDBOX_READY;
      if (ready && !v.force && !v.all) throw new CliError(`pod ${id} is ready: stop it first (crius stopp) or use -f`);
      if (ready) await stopPod(ctx, id);
      await removePod(ctx, id);
      println(ctx.stdout, `Removed sandbox ${id}`);
    });
  },
};

export const podCommands: Command[] = [runp, pods, inspectp, stopp, rmp];
