/** A counting semaphore: at most `permits` holders at once, served in arrival order. */
export class Semaphore {
  private waiting: Array<() => void> = [];

  constructor(private permits: number) {}

  /** Runs fn while holding one permit. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.permits > 0) {
      --this.permits;
    } else {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); else ++this.permits;
    }
  }
}

/**
 * Runs produce(0..count-1) with at most `window` results started ahead of the one being consumed,
 * and hands the results to consume in index order. Memory stays bounded by the window; concurrency
 * is whatever produce allows (callers gate it with a Semaphore). The first error stops new work and
 * is thrown once the started work has settled.
 */
export async function orderedPipeline<T>(
  count: number,
  window: number,
  produce: (k: number) => Promise<T>,
  consume: (k: number, value: T) => Promise<void> | void,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const queue: Array<Promise<T>> = [];
  let next = 0;
  const start = () => {
    const p = produce(next++);
    p.catch(() => {});  // handled when its turn comes; avoids an unhandled rejection meanwhile
    queue.push(p);
  };
  let error: unknown;
  try {
    while (next < count && queue.length < window) start();
    for (let k = 0; k < count && queue.length > 0; ++k) {
      const value = await queue.shift()!;
      await consume(k, value);
      if (shouldStop()) break;
      if (next < count) start();
    }
  } catch (err) {
    error = err;
  }
  await Promise.allSettled(queue);
  if (error !== undefined) throw error;
}
