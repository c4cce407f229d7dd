/**
 * Client-side rate limit for CSIP: 20 requests per second per API per account
 * (https://cloud.tencent.com/document/api/664/90808 lists the limit per action).
 *
 * Calls under one (account, action) start one at a time, in the order they asked, each at least
 * `spacingMs` after the one before it actually started. With spacing (1000 ms + margin) / (limit - 1),
 * any one-second window holds at most `limit` starts, while the sustained rate stays at (limit - 1) /
 * limit of the limit or better. The spacing counts from real starts, not from booked ones: a process that
 * stalls (a busy machine, a paused instance, a long garbage collection) lets no burst of overdue calls out
 * when it wakes. The margin absorbs jitter between leaving this process and arriving at the API.
 */
export interface RateLimit {
  perSecond: number;
  marginMs: number;
}

export class RateLimiter {
  /** When the last call under each key started. */
  private readonly lastStart = new Map<string, number>();
  /** The last call waiting under each key: the next one waits for it. */
  private readonly queue = new Map<string, Promise<void>>();
  readonly spacingMs: number;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    this.spacingMs = (1000 + limit.marginMs) / Math.max(1, limit.perSecond - 1);
  }

  /** Waits until a call under `key` may start, after those that asked before it, and counts its start. */
  async acquire(key: string): Promise<void> {
    const before = this.queue.get(key);
    let started!: () => void;
    const mine = new Promise<void>((resolve) => (started = resolve));
    this.queue.set(key, mine);
    try {
      await before;
      // Timers count whole milliseconds and may fire a little early: wait until the spacing has really passed.
      for (let wait = this.waitMs(key); wait > 0; wait = this.waitMs(key)) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
      this.lastStart.set(key, this.now());
    } finally {
      started();
      if (this.queue.get(key) === mine) this.queue.delete(key);
    }
  }

  private waitMs(key: string): number {
    const last = this.lastStart.get(key);
    return last === undefined ? 0 : last + this.spacingMs - this.now();
  }
}
