// monitor-svc's bus adapter: CRI stats, metrics and log reopen ↔ CriStats,
// with targets from runtime-svc.
import { NotFoundError, FailedPreconditionError, pages, stream, unary, type BusClient, type BusEndpoint, type HandlerContext } from '@crius/common';
import {
  ContainerStatsRequest,
  ContainerStatsResponse,
  ListContainerStatsRequest,
  ListContainerStatsResponse,
  ListMetricDescriptorsRequest,
  ListMetricDescriptorsResponse,
  ListPodSandboxMetricsRequest,
  ListPodSandboxMetricsResponse,
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponse,
  PodSandboxStatsRequest,
  PodSandboxStatsResponse,
  ReopenContainerLogRequest,
  ReopenContainerLogResponse,
  StreamContainerStatsRequest,
  StreamContainerStatsResponse,
  StreamPodSandboxMetricsRequest,
  StreamPodSandboxMetricsResponse,
  StreamPodSandboxStatsRequest,
  StreamPodSandboxStatsResponse,
} from '@crius/common/cri';
import { reopenLog } from './log-reopen.js';
import { listMetricDescriptors, type CriStats } from './stats/index.js';
import { fetchTargets, filterContainers, filterPods } from './targets.js';

export function monitorEndpoints(stats: CriStats, bus: BusClient): Record<string, BusEndpoint> {
  const targets = (ctx: HandlerContext) => fetchTargets(bus, { deadline: ctx.deadline, requestId: ctx.requestId });
  const containerStats = async (f: Parameters<typeof filterContainers>[1], ctx: HandlerContext) => {
    const t = await targets(ctx);
    stats.retain(t.containers.map((c) => c.id), t.pods.map((p) => p.id));
    return stats.listContainerStats(filterContainers(t, f));
  };
  const podStats = async (f: Parameters<typeof filterPods>[1], ctx: HandlerContext) => stats.listPodSandboxStats(filterPods(await targets(ctx), f));
  const podMetrics = async (ctx: HandlerContext) => stats.listPodSandboxMetrics((await targets(ctx)).pods);

  return {
    ContainerStats: unary(ContainerStatsRequest, ContainerStatsResponse, async (req, ctx) => {
      const c = (await targets(ctx)).containers.find((x) => x.id === req.containerId || x.id.startsWith(req.containerId));
      if (!c) throw new NotFoundError(`container "${req.containerId}" not found`);
      return { stats: await stats.containerStats(c) };
    }),
    ListContainerStats: unary(ListContainerStatsRequest, ListContainerStatsResponse, async (req, ctx) => ({ stats: await containerStats(req.filter, ctx) })),
    StreamContainerStats: stream(StreamContainerStatsRequest, StreamContainerStatsResponse, async function* (req, ctx) {
      yield* pages(await containerStats(req.filter, ctx), (containerStats) => ({ containerStats }));
    }),
    PodSandboxStats: unary(PodSandboxStatsRequest, PodSandboxStatsResponse, async (req, ctx) => {
      const p = (await targets(ctx)).pods.find((x) => x.id === req.podSandboxId || x.id.startsWith(req.podSandboxId));
      if (!p) throw new NotFoundError(`pod sandbox "${req.podSandboxId}" not found`);
      return { stats: await stats.podSandboxStats(p) };
    }),
    ListPodSandboxStats: unary(ListPodSandboxStatsRequest, ListPodSandboxStatsResponse, async (req, ctx) => ({ stats: await podStats(req.filter, ctx) })),
    StreamPodSandboxStats: stream(StreamPodSandboxStatsRequest, StreamPodSandboxStatsResponse, async function* (req, ctx) {
      yield* pages(await podStats(req.filter, ctx), (podSandboxStats) => ({ podSandboxStats }));
    }),
    ListMetricDescriptors: unary(ListMetricDescriptorsRequest, ListMetricDescriptorsResponse, async () => ({ descriptors: listMetricDescriptors() })),
    ListPodSandboxMetrics: unary(ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse, async (_req, ctx) => ({ podMetrics: await podMetrics(ctx) })),
    StreamPodSandboxMetrics: stream(StreamPodSandboxMetricsRequest, StreamPodSandboxMetricsResponse, async function* (_req, ctx) {
      yield* pages(await podMetrics(ctx), (podSandboxMetrics) => ({ podSandboxMetrics }), 50);
    }),
    ReopenContainerLog: unary(ReopenContainerLogRequest, ReopenContainerLogResponse, async (req, ctx) => {
      const c = (await targets(ctx)).containers.find((x) => x.id === req.containerId);
      if (!c) throw new NotFoundError(`container "${req.containerId}" not found`);
      if (!c.running) throw new FailedPreconditionError(`ReopenContainerLog ${req.containerId}: container is not running`);
      await reopenLog(c.bundle, c.id);
      return {};
    }),
  };
}
