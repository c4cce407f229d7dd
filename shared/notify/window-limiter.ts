/**
 * A sliding-window limit per robot: at most `perSecond` messages in any second and `perMinute` in
 * any minute. `delayMs` says how long the next message must wait; `record` books it.
 */
export class WindowLimiter {
  private readonly sent = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  delayMs(key: string, limits: { perSecond?: number; perMinute?: number }): number {
    const now = this.now();
    const times = (this.sent.get(key) ?? []).filter((t) => now - t < 60_000);
    this.sent.set(key, times);
    let wait = 0;
    for (const [windowMs, max] of [[1000, limits.perSecond], [60_000, limits.perMinute]] as const) {
      if (!max) continue;
      const inWindow = times.filter((t) => now - t < windowMs);
      if (inWindow.length >= max) wait = Math.max(wait, inWindow[inWindow.length - max]! + windowMs - now);
    }
    return wait;
  }

  record(key: string): void {
    const times = this.sent.get(key) ?? [];
    times.push(this.now());
    this.sent.set(key, times);
  }
}

/** One limiter for the process: every run sending to the same robot shares its budget. */
export const robotLimiter = new WindowLimiter();
