// `crius status`: the gateway's Status (verbose) as a table of services.
import type { StatusResponse } from '@crius/common/cri';
import { callUnary, type CriClient } from '../cri-client.js';

export async function fetchStatus(cri: CriClient): Promise<StatusResponse> {
  return callUnary(cri.runtime, cri.runtime.status, { verbose: true }, 5000);
}

export function formatStatus(s: StatusResponse): string {
  const lines: string[] = [];
  for (const c of s.status?.conditions ?? []) {
    lines.push(`${c.type.padEnd(14)} ${String(c.status).padEnd(6)} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
  }
  lines.push('');
  lines.push(`${'SERVICE'.padEnd(14)} ${'READY'.padEnd(6)} DETAIL`);
  for (const [name, raw] of Object.entries(s.info).sort()) {
    const h = JSON.parse(raw) as { ready: boolean; version?: string; pid?: number; error?: string };
    lines.push(`${name.padEnd(14)} ${String(h.ready).padEnd(6)} ${h.error ?? `pid ${h.pid} version ${h.version}`}`);
  }
  return lines.join('\n');
}
