/**
 * Client-side rate limit for CSIP: 20 requests per second per API per account
 * (https://cloud.tencent.com/document/api/664/90808 lists the limit per action).
 *
 * A token bucket of capacity 1 per (account, action): calls start at least `spacingMs` apart. With
 * spacing (1000 ms + margin) / (limit - 1), any one-second window holds at most `limit` starts, while
 * the sustained rate stays at (limit - 1) / limit of the limit or better. The margin absorbs jitter
 * between leaving this process and arriving at the API.
 */
export interface RateLimit {
  perSecond: number;
  marginMs: number;
}

export class RateLimiter {
  private readonly nextStart = new Map<string, number>();
  readonly spacingMs: number;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    this.spacingMs = (1000 + limit.marginMs) / Math.max(1, limit.perSecond - 1);
  }

  /** Waits until a call under `key` may start, and books that start. */
  async acquire(key: string): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.nextStart.get(key) ?? 0);
    this.nextStart.set(key, at + this.spacingMs);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}
