// Types for lib.mjs, so the TypeScript benches type-check against it.
export function percentile(sorted: number[], p: number): number;
export function summarize(samplesMs: number[]): { n: number; p50: number; p95: number; p99: number };
export function timeCalls(n: number, fn: () => Promise<unknown>): Promise<number[]>;
export function fmt(ms: number): string;
