// pino JSON logging: one root logger per process, named after the service;
// handlers take children carrying the method and the gateway's request id.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { service: name, pid: process.pid } }, pino.destination(2));
}
