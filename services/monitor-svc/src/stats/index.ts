// monitor-svc stats: the public surface of the stats half (CRI stats + metrics, Prometheus).
// Owner: monitor-svc. The bus handlers import from here.
export * from './cgroup-parse.js';
export * from './cgroup-reader.js';
export * from './cpu-rate.js';
export * from './net-stats.js';
export * from './sampler.js';
export * from './stats.js';
export * from './metrics.js';
export * from './prometheus.js';
