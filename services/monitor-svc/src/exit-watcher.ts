// Watches conmon's exit dir (inotify through fs.watch, a sweep at start and a
// slow periodic sweep as a safety net) and hands each exit to runtime-svc's
// RecordExit, which owns the state change and publishes the STOPPED event.
// Across a monitor-svc restart nothing is lost: the start sweep reports every
// exit file again, and RecordExit is idempotent (an exit is recorded, and its
// event published, once).
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import type { BusClient, Logger } from '@crius/common';
import { RecordExitRequest, RecordExitResponse } from '@crius/common/proto/runtime';

export interface ExitReport {
  id: string;
  reason: string;
  exitCode: number;
}

export class ExitWatcher {
  private watcher?: FSWatcher;
  private sweepTimer?: NodeJS.Timeout;
  /** Exit files already handed over (runtime-svc knows them). */
  private readonly done = new Set<string>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly bus: BusClient,
    private readonly log: Logger,
    private readonly onExit: (e: ExitReport) => void,
    private readonly sweepMs = 5000,
  ) {}

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.watcher = watch(this.dir, (_event, name) => {
      if (name && !name.startsWith('.')) void this.report(String(name));
    });
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepMs);
  }

  stop(): void {
    this.watcher?.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  async sweep(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const present = new Set(names);
    for (const name of this.done) if (!present.has(name)) this.done.delete(name);
    await Promise.all(names.filter((n) => !n.startsWith('.')).map((n) => this.report(n)));
  }

  private async report(id: string): Promise<void> {
    if (this.done.has(id) || this.inFlight.has(id)) return;
    this.inFlight.add(id);
    try {
      const r = await this.bus.call('runtime', 'RecordExit', RecordExitRequest, RecordExitResponse, { containerId: id }, { deadline: Date.now() + 10_000 });
      this.done.add(id);
      if (r.changed) this.onExit({ id, reason: r.reason, exitCode: r.exitCode });
    } catch (err) {
      // runtime-svc down or restarting: the next sweep tries again.
      this.log.debug({ id, err: (err as Error).message }, 'exit not handed over yet');
    } finally {
      this.inFlight.delete(id);
    }
  }
}
