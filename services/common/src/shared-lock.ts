// A shared/exclusive async lock: many shared holders at once, or one exclusive
// holder; a waiting exclusive holder blocks new shared ones (no starvation).
// storage-svc: unpacks and mounts (shared) against layer GC (exclusive);
// image-svc: layer hand-offs (shared) against layer collection (exclusive).

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
