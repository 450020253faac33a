// `crius up`: start the stack in the foreground and keep it supervised until
// Ctrl-C or `crius down`; `crius down` signals the pid recorded here.
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CriusConfig } from '@crius/common';
import { Stack } from '../launcher/stack.js';
import { removeDemoPods, runDemo } from './demo.js';

export function pidFile(cfg: CriusConfig): string {
  return path.join(cfg.state.run_root, 'crius-up.pid');
}

/**
 * Ctrl-C or SIGTERM (`crius down`) stops the stack in order: the demo is cut
 * short and its pod removed while the services still run, then the gateway,
 * the services and NATS. A second Ctrl-C does not wait: it kills them all.
 */
export async function up(cfg: CriusConfig, configPath: string | undefined, opts: { demo: boolean }): Promise<void> {
  await mkdir(cfg.state.run_root, { recursive: true });
  const stack = new Stack({ config: cfg, configPath, onLog: (l) => console.error(`crius: ${l}`) });
  const demoAbort = new AbortController();
  let demo: Promise<void> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) {
      console.error('crius: second signal: killing every service without waiting');
      stack.kill();
      await rm(pidFile(cfg), { force: true });
      process.exit(130);
    }
    stopping = true;
    console.error('crius: stopping');
    demoAbort.abort();
    if (demo) {
      await demo.catch(() => undefined);
      await removeDemoPods(cfg).catch((err) => console.error(`crius: could not remove the demo pod: ${(err as Error).message}`));
    }
    await stack.stop();
    await rm(pidFile(cfg), { force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    await stack.start();
  } catch (err) {
    console.error(`crius: ${(err as Error).message}`);
    await stop(1);
    return;
  }
  if (stopping) return;
  await writeFile(pidFile(cfg), `${process.pid}\n`);
  console.log(`crius is up: CRI socket unix://${cfg.api.listen} (logs in ${stack.logDir})`);
  if (opts.demo) {
    demo = runDemo(cfg, stack, (line) => console.log(line), demoAbort.signal);
    try {
      await demo;
    } catch (err) {
      if (stopping) return;
      console.error(`crius: demo failed: ${(err as Error).message}`);
      await stop(1);
      return;
    }
  }
  console.log('Press Ctrl-C (or run `crius down`) to stop.');
}

export async function down(cfg: CriusConfig, timeoutMs = 20_000): Promise<boolean> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile(cfg), 'utf8')).trim());
  } catch {
    return false;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    await rm(pidFile(cfg), { force: true });
    return false;
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`crius up (pid ${pid}) did not stop within ${timeoutMs} ms`);
}
