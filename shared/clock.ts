/**
 * Time, in one place: the clock every module is handed (so tests can move it), `sleep`, and the
 * deadline of an invocation.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Waits `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const systemClock: Clock = { now: () => Date.now(), sleep };

/**
 * The time a function has left. SCF passes its limit in the context (`getRemainingTimeInMillis()`,
 * `time_limit_in_ms`); locally it is a setting. `reserveMs` is kept back for telling people what did
 * not finish.
 */
export interface Deadline {
  /** Milliseconds left for work, the reserve already taken off. */
  remainingMs(): number;
  expired(): boolean;
}

export function deadlineIn(totalMs: number, reserveMs: number, now: () => number = Date.now): Deadline {
  const end = now() + totalMs - reserveMs;
  return {
    remainingMs: () => Math.max(0, end - now()),
    expired: () => now() >= end,
  };
}

/** What SCF's Node.js context offers about time; both fields are optional here. */
export interface ScfContextTime {
  getRemainingTimeInMillis?: () => number;
  time_limit_in_ms?: number;
}

/** The milliseconds an SCF invocation has left, from its context, or undefined when it says nothing. */
export function remainingFromContext(context: unknown): number | undefined {
  if (context === null || typeof context !== "object") return undefined;
  const c = context as ScfContextTime;
  if (typeof c.getRemainingTimeInMillis === "function") {
    const left = c.getRemainingTimeInMillis();
    if (Number.isFinite(left) && left > 0) return left;
  }
  return typeof c.time_limit_in_ms === "number" && c.time_limit_in_ms > 0 ? c.time_limit_in_ms : undefined;
}
