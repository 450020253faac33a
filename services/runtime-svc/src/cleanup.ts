// A stack of named undo steps for multi-step creates: on failure every step
// done so far is undone in reverse order, each failure of an undo logged (by
// name) but never hiding the original error.
import type { Logger } from '@crius/common';

export class CleanupStack {
  private readonly steps: { name: string; undo: () => Promise<unknown> }[] = [];

  constructor(private readonly log: Logger) {}

  push(name: string, undo: () => Promise<unknown>): void {
    this.steps.push({ name, undo });
  }

  /** Undo everything, newest first. */
  async unwind(): Promise<void> {
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (err) {
        this.log.error({ step: step.name, err: (err as Error).message }, 'cleanup step failed');
      }
    }
  }

  /** Success: forget the undo steps. */
  commit(): void {
    this.steps.length = 0;
  }
}
