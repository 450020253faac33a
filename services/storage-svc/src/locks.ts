// In-process coordination: per-key mutual exclusion and a shared/exclusive lock. Owner: storage-svc.
// One storage-svc owns a root; these order concurrent bus requests inside that process.

/** Runs tasks for the same key one after another. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Many shared holders or one exclusive holder; exclusive waiters block new shared ones. */
export class SharedLock {
  private shared = 0;
  private exclusive = false;
  private readonly waiters: { exclusive: boolean; wake: () => void }[] = [];

  async withShared<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await task();
    } finally {
      this.shared--;
      this.pump();
    }
  }

  async withExclusive<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await task();
    } finally {
      this.exclusive = false;
      this.pump();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    return new Promise((wake) => {
      this.waiters.push({ exclusive, wake });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiters.length > 0 && !this.exclusive) {
      const next = this.waiters[0]!;
      if (next.exclusive) {
        if (this.shared > 0) return;
        this.exclusive = true;
      } else this.shared++;
      this.waiters.shift();
      next.wake();
    }
  }
}
