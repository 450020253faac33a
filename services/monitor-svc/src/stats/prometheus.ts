// monitor-svc: crius's own runtime metrics for the Prometheus endpoint (crius_* names).
// Owner: monitor-svc. The bus wiring turns events (container exit, OOM, image pulled,
// service health) into calls here; the metrics endpoint serves text().
// Each instance has its own registry, so tests and several instances never share counters.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Container states as CRI names them, lower-cased for the label. */
export const CONTAINER_STATES = ['created', 'running', 'exited', 'unknown'] as const;
export type ContainerStateLabel = (typeof CONTAINER_STATES)[number];

export interface RuntimeMetricsOptions {
  /** Also export Node's process metrics (process_*, nodejs_*). Default false. */
  processMetrics?: boolean;
}

export interface RuntimeMetrics {
  readonly registry: Registry;
  /** Content-Type header for text(). */
  readonly contentType: string;
  /** Replaces the per-state container counts; states not given are set to 0. */
  setContainerCounts(counts: Partial<Record<ContainerStateLabel, number>>): void;
  containerOom(count?: number): void;
  containerExited(count?: number): void;
  imagePulled(bytes: number): void;
  imagePullFailed(): void;
  setServiceUp(service: string, up: boolean): void;
  /** The text exposition format (version 0.0.4). */
  text(): Promise<string>;
}

export function createRuntimeMetrics(opts: RuntimeMetricsOptions = {}): RuntimeMetrics {
  const registry = new Registry();
  const reg = { registers: [registry] };
  const containers = new Gauge({
    name: 'crius_containers',
    help: 'Number of containers known to crius, by state.',
    labelNames: ['state'] as const,
    ...reg,
  });
  const ooms = new Counter({
    name: 'crius_container_oom_events_total',
    help: 'Containers killed by the out-of-memory killer, as observed by monitor-svc.',
    ...reg,
  });
  const exits = new Counter({
    name: 'crius_container_exits_total',
    help: 'Container exits observed by monitor-svc.',
    ...reg,
  });
  const pulls = new Counter({ name: 'crius_image_pulls_total', help: 'Images pulled successfully.', ...reg });
  const pullFailures = new Counter({
    name: 'crius_image_pull_failures_total',
    help: 'Image pulls that failed.',
    ...reg,
  });
  const pullBytes = new Counter({
    name: 'crius_image_pull_bytes_total',
    help: 'Bytes downloaded from registries by image pulls.',
    ...reg,
  });
  const up = new Gauge({
    name: 'crius_service_up',
    help: 'Whether a crius service answers its health check (1) or not (0).',
    labelNames: ['service'] as const,
    ...reg,
  });
  // Every state is present from the start, so dashboards see 0 rather than no series.
  for (const state of CONTAINER_STATES) containers.set({ state }, 0);
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });

  return {
    registry,
    contentType: registry.contentType,
    setContainerCounts(counts) {
      for (const state of CONTAINER_STATES) containers.set({ state }, counts[state] ?? 0);
    },
    containerOom: (count = 1) => ooms.inc(count),
    containerExited: (count = 1) => exits.inc(count),
    imagePulled(bytes) {
      pulls.inc();
      if (bytes > 0) pullBytes.inc(bytes);
    },
    imagePullFailed: () => pullFailures.inc(),
    setServiceUp: (service, isUp) => up.set({ service }, isUp ? 1 : 0),
    text: () => registry.metrics(),
  };
}
