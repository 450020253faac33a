// bench/report: fixed-width lines putting crius next to its peer, with ratios
// (crius / peer: above 1 means crius is slower or bigger).
import { summarize } from './lib.mjs';

export type Summary = ReturnType<typeof summarize>;

export function ms(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} ms`.padStart(10) : '       n/a';
}

export function ratio(ours: number, peer: number): string {
  return peer > 0 && Number.isFinite(ours) ? `${(ours / peer).toFixed(2)}x` : 'n/a';
}

export function header(peer: string): string {
  return `  ${'call'.padEnd(18)} ${'crius p50'.padStart(10)} ${'p95'.padStart(10)}   ${`${peer} p50`.padStart(14)} ${'p95'.padStart(10)}   ratio p50  p95`;
}

/** One line: p50/p95 of crius and the peer, and the ratios. */
export function compareLine(label: string, ours: number[], peer: number[]): string {
  const o = summarize(ours);
  const p = summarize(peer);
  return `  ${label.padEnd(18)} ${ms(o.p50)} ${ms(o.p95)}   ${ms(p.p50).padStart(14)} ${ms(p.p95)}   ${ratio(o.p50, p.p50).padStart(9)} ${ratio(o.p95, p.p95).padStart(5)}`;
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
