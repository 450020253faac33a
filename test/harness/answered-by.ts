// Who answered a CRI call, from the stack's own logs: the gateway logs the
// outcome of every call with its request id, the id travels in the bus
// headers, and a service logs each request it answered (served or failed)
// with that id and the method. So "the call reached its owner" is checked on
// what the owner itself wrote, not on what the gateway says.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { SERVICES, processName, type ServiceName } from '@crius/common';
import type { TestStack } from './stack.js';
import { waitFor } from './pod.js';

interface LogLine {
  method?: string;
  requestId?: string;
  msg?: string;
  code?: number;
  service?: string;
}

/** Byte offsets of every log file of the stack: where lines of the next call start. */
export type LogMark = Map<string, number>;

const LOGS = ['cri-gateway', ...SERVICES.map(processName)];

export async function markLogs(s: TestStack): Promise<LogMark> {
  const mark: LogMark = new Map();
  for (const name of LOGS) mark.set(name, (await stat(logFile(s, name)).catch(() => ({ size: 0 }))).size);
  return mark;
}

function logFile(s: TestStack, name: string): string {
  return path.join(s.stack.logDir, `${name}.log`);
}

async function linesSince(s: TestStack, name: string, from: number): Promise<LogLine[]> {
  const fh = await open(logFile(s, name), 'r').catch(() => undefined);
  if (!fh) return [];
  try {
    const { size } = await fh.stat();
    // A restarted service appends to the same file, so the mark stays valid.
    const buf = Buffer.alloc(Math.max(0, size - from));
    await fh.read(buf, 0, buf.length, from);
    return buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  } finally {
    await fh.close();
  }
}

const isOutcome = (l: LogLine, method: string) => l.method === method && (l.msg === 'ok' || l.msg === 'served' || l.msg === 'failed');

export interface Answer {
  requestId: string;
  /** 'gateway' when no service logged the call as its own. */
  owner: ServiceName | 'gateway';
  /** The gRPC code the owner logged (0 for a success). */
  code: number;
}

/**
 * The one call of `method` made since `mark`: its request id from the gateway's log, and
 * the service that logged answering that request as `method`. Waits (bounded) for the
 * lines: pino writes them asynchronously, so they may land just after the reply.
 */
export async function answeredBy(s: TestStack, mark: LogMark, method: string, owner: ServiceName | 'gateway'): Promise<Answer> {
  // pino writes asynchronously: the lines may land a moment after the reply.
  const gw = await waitFor(`the gateway's log line for ${method}`, async () => {
    const lines = (await linesSince(s, 'cri-gateway', mark.get('cri-gateway')!)).filter((l) => isOutcome(l, method));
    return lines.length ? lines : undefined;
  });
  if (gw.length !== 1) throw new Error(`expected one gateway log line for ${method} since the mark, found ${gw.length}`);
  const requestId = gw[0]!.requestId!;
  const gatewayCode = gw[0]!.code ?? 0;
  const answering = async () => {
    const found: { service: ServiceName; line: LogLine }[] = [];
    for (const svc of SERVICES) {
      for (const line of await linesSince(s, processName(svc), mark.get(processName(svc))!)) {
        if (line.requestId === requestId && isOutcome(line, method)) found.push({ service: svc, line });
      }
    }
    return found;
  };
  if (owner === 'gateway') {
    // Had the gateway forwarded the call, the service answered (and logged) before the gateway did.
    const found = await answering();
    if (found.length) throw new Error(`${method} was answered by ${found.map((f) => processName(f.service)).join(', ')}, not the gateway`);
    return { requestId, owner: 'gateway', code: gatewayCode };
  }
  const found = await waitFor(`a service log line for ${method} request ${requestId}`, async () => {
    const f = await answering();
    return f.length ? f : undefined;
  });
  if (found.length !== 1) throw new Error(`${method} request ${requestId} was answered by ${found.length} services`);
  return { requestId, owner: found[0]!.service, code: found[0]!.line.code ?? 0 };
}
