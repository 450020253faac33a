// `crius stats`: container resource usage (ListContainerStats). CPU % needs
// two samples, so the command samples twice, --seconds apart (as crictl does).
import { setTimeout as sleep } from 'node:timers/promises';
import { ListContainerStatsRequest, type ContainerStats } from '@crius/common/cri';
import { UsageError, println, type Command, type Ctx, type Values } from '../command.js';
import { humanSize, machineOutput, outputFormat, parseLabels, table, truncId } from '../format.js';
import { listContainers, resolveContainer, resolvePod, unary } from '../rpc.js';

async function sample(ctx: Ctx, filter: ListContainerStatsRequest['filter']): Promise<ContainerStats[]> {
  const r = await unary(ctx, 'ListContainerStats', (c) => [c.runtime, c.runtime.listContainerStats], ListContainerStatsRequest.fromPartial({ filter }));
  return r.stats;
}

/** CPU use between two samples in percent of one core; usage_nano_cores when the runtime gives it. */
export function cpuPercent(before: ContainerStats | undefined, after: ContainerStats): number | undefined {
  const nanoCores = after.cpu?.usageNanoCores?.value;
  const a = after.cpu;
  const b = before?.cpu;
  if (b?.usageCoreNanoSeconds && a?.usageCoreNanoSeconds && a.timestamp > b.timestamp) {
    const used = Number(a.usageCoreNanoSeconds.value - b.usageCoreNanoSeconds.value);
    return (used / Number(a.timestamp - b.timestamp)) * 100;
  }
  return nanoCores === undefined ? undefined : Number(nanoCores) / 1e7;
}

async function filterFrom(ctx: Ctx, v: Values, ids: string[]): Promise<ListContainerStatsRequest['filter']> {
  const podSandboxId = typeof v.pod === 'string' ? await resolvePod(ctx, v.pod) : '';
  const id = ids.length === 1 ? await resolveContainer(ctx, ids[0]!) : '';
  return { id, podSandboxId, labelSelector: parseLabels(v.label as string[] | undefined) };
}

export const statsCommand: Command = {
  name: 'stats',
  args: '[CONTAINER]',
  summary: 'Show resource usage of running containers (all with -a).',
  help: `options:
  -a, --all           include containers that are not running
  -p, --pod POD       containers of one pod
  --label KEY=VALUE   containers with this label (repeatable)
  -s, --seconds N     sampling interval for CPU % (default 1)
  -o, --output FMT    table (default), json or yaml`,
  options: {
    all: { type: 'boolean', short: 'a' },
    pod: { type: 'string', short: 'p' },
    label: { type: 'string', multiple: true },
    seconds: { type: 'string', short: 's' },
    output: { type: 'string', short: 'o' },
  },
  async run(ctx, v, pos) {
    if (pos.length > 1) throw new UsageError('stats takes at most one CONTAINER');
    const format = outputFormat(v.output, 'table');
    const seconds = Number(v.seconds ?? 1);
    if (!(seconds >= 0)) throw new UsageError(`--seconds ${JSON.stringify(v.seconds)}: expected a number`);
    const filter = await filterFrom(ctx, v, pos);
    const first = await sample(ctx, filter);
    const machine = machineOutput({ stats: first }, format);
    if (machine !== undefined) {
      println(ctx.stdout, machine);
      return 0;
    }
    if (first.length && seconds > 0) await sleep(seconds * 1000);
    const second = first.length && seconds > 0 ? await sample(ctx, filter) : first;
    const running = v.all || pos.length ? undefined : new Set((await listContainers(ctx, { filter: { id: '', podSandboxId: '', labelSelector: {}, state: { state: 1 } } })).map((c) => c.id));
    const before = new Map(first.map((s) => [s.attributes?.id, s]));
    const rows = second
      .filter((s) => !running || running.has(s.attributes?.id ?? ''))
      .map((s) => {
        const cpu = cpuPercent(before.get(s.attributes?.id), s);
        return [
          truncId(s.attributes?.id ?? ''),
          s.attributes?.metadata?.name ?? '',
          cpu === undefined ? '-' : cpu.toFixed(2),
          s.memory?.workingSetBytes ? humanSize(s.memory.workingSetBytes.value) : '-',
          s.writableLayer?.usedBytes ? humanSize(s.writableLayer.usedBytes.value) : '-',
          s.writableLayer?.inodesUsed ? String(s.writableLayer.inodesUsed.value) : '-',
        ];
      });
    println(ctx.stdout, table(['CONTAINER', 'NAME', 'CPU %', 'MEM', 'DISK', 'INODES'], rows));
    return 0;
  },
};
