// `crius up`: start the stack in the foreground and keep it supervised until
// Ctrl-C or `crius down`; `crius down` signals the pid recorded here.
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CriusConfig } from '@crius/common';
import { Stack } from '../launcher/stack.js';
import { runDemo, type Demo } from './demo.js';

export function pidFile(cfg: CriusConfig): string {
  return path.join(cfg.state.run_root, 'crius-up.pid');
}

export async function up(cfg: CriusConfig, configPath: string | undefined, opts: { demo: boolean }): Promise<void> {
  await mkdir(cfg.state.run_root, { recursive: true });
  const stack = new Stack({ config: cfg, configPath, onLog: (l) => console.error(`crius: ${l}`) });
  let stopping = false;
  let demoRun: Demo | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.error('crius: stopping');
    await demoRun?.cleanup();
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
  await writeFile(pidFile(cfg), `${process.pid}\n`);
  console.log(`crius is up: CRI socket unix://${cfg.api.listen} (logs in ${stack.logDir})`);
  if (opts.demo) {
    try {
      demoRun = await runDemo(cfg, stack, (line) => console.log(line));
    } catch (err) {
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
