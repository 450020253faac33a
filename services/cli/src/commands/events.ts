// `crius events`: the container event stream (GetContainerEvents) as lines,
// until Ctrl-C or --count events; -o json prints one JSON object per line.
// A note on stderr says when the stream is live.
import type { ClientReadableStream } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { GetEventsRequest, containerEventTypeToJSON, containerStateToJSON, podSandboxStateToJSON, type ContainerEventResponse } from '@crius/common/cri';
import { UsageError, println, type Command } from '../command.js';
import { nanosToIso, outputFormat, toPlain, toYaml, truncId } from '../format.js';
import { call } from '../rpc.js';

/** "CONTAINER_STARTED_EVENT" → "started". */
export function eventName(e: ContainerEventResponse): string {
  return containerEventTypeToJSON(e.containerEventType).replace(/^CONTAINER_/, '').replace(/_EVENT$/, '').toLowerCase();
}

function eventPlain(e: ContainerEventResponse) {
  return {
    ...e,
    containerEventType: containerEventTypeToJSON(e.containerEventType),
    podSandboxStatus: e.podSandboxStatus && { ...e.podSandboxStatus, state: podSandboxStateToJSON(e.podSandboxStatus.state) },
    containersStatuses: e.containersStatuses.map((c) => ({ ...c, state: containerStateToJSON(c.state) })),
  };
}

export function eventLine(e: ContainerEventResponse, noTrunc = false): string {
  const name = e.containersStatuses.find((c) => c.id === e.containerId)?.metadata?.name ?? '';
  const pod = e.podSandboxStatus?.metadata ? `${e.podSandboxStatus.metadata.namespace}/${e.podSandboxStatus.metadata.name}` : '';
  return [nanosToIso(e.createdAt).padEnd(24), eventName(e).padEnd(8), truncId(e.containerId, noTrunc).padEnd(noTrunc ? 64 : 13), name.padEnd(16), pod].join('   ').trimEnd();
}

export const eventsCommand: Command = {
  name: 'events',
  args: '',
  summary: 'Stream container events until Ctrl-C.',
  help: `options:
  -n, --count N      stop after N events
  --no-trunc         full ids
  -o, --output FMT   table (default), json (one object per line) or yaml`,
  options: { count: { type: 'string', short: 'n' }, 'no-trunc': { type: 'boolean' }, output: { type: 'string', short: 'o' } },
  async run(ctx, v) {
    const format = outputFormat(v.output, 'table');
    const count = v.count === undefined ? Infinity : Number(v.count);
    if (!(count > 0) || (count !== Infinity && !Number.isInteger(count))) throw new UsageError(`--count ${JSON.stringify(v.count)}: expected a positive count`);
    if (format === 'table') println(ctx.stdout, ['TIME'.padEnd(24), 'EVENT   ', 'CONTAINER'.padEnd(v['no-trunc'] ? 64 : 13), 'NAME'.padEnd(16), 'POD'].join('   '));
    await call(ctx, 'GetContainerEvents', async (c) => {
      const stream: ClientReadableStream<ContainerEventResponse> = c.runtime.getContainerEvents(GetEventsRequest.fromPartial({}));
      // crius sends the headers once it relays events (other runtimes with the first event): from then on none is missed.
      stream.once('metadata', () => println(ctx.stderr, 'watching container events (Ctrl-C to stop)'));
      const cancel = () => stream.cancel();
      ctx.signal.addEventListener('abort', cancel, { once: true });
      let seen = 0;
      try {
        for await (const e of stream as AsyncIterable<ContainerEventResponse>) {
          if (format === 'json') println(ctx.stdout, JSON.stringify(toPlain(eventPlain(e))));
          else if (format === 'yaml') println(ctx.stdout, `---\n${toYaml(eventPlain(e))}`);
          else println(ctx.stdout, eventLine(e, v['no-trunc'] === true));
          if (++seen >= count) break;
        }
      } catch (err) {
        if ((err as { code?: number }).code !== GrpcStatus.CANCELLED) throw err;
      } finally {
        ctx.signal.removeEventListener('abort', cancel);
        stream.cancel();
      }
    });
    return 0;
  },
};
