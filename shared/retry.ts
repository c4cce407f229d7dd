import { sleep as realSleep, type Deadline } from "./clock.ts";

/** Backoff of retried work: exponential with full jitter. The defaults live in the config schema. */
export interface RetryPolicy {
  /** First backoff ceiling, in ms. */
  baseMs: number;
  /** Largest backoff, in ms. */
  capMs: number;
  /** Tries in all, the first included. */
  attempts: number;
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^retry)).
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffMs(policy: Pick<RetryPolicy, "baseMs" | "capMs">, retry: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** retry));
}

/** Whether to try again after `error`, and optionally how long the other side asked us to wait. */
export type RetryVerdict = boolean | { retry: boolean; waitMs?: number | undefined };

export interface RetryOptions {
  policy: RetryPolicy;
  /** Which failures to try again. */
  shouldRetry: (error: unknown) => RetryVerdict;
  deadline?: Deadline | undefined;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told about each retry, for logs and tests. */
  onRetry?: (error: unknown, delayMs: number, attempt: number) => void;
}

/**
 * Runs `call` until it succeeds, fails with something not to retry, runs out of attempts, or the
 * next wait would end past the deadline. Rethrows the last error. A wait the other side asked for
 * (Retry-After) replaces the backoff.
 */
export async function withRetry<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      const verdict = options.shouldRetry(error);
      const retry = typeof verdict === "boolean" ? verdict : verdict.retry;
      if (!retry || attempt >= options.policy.attempts) throw error;
      const asked = typeof verdict === "object" ? verdict.waitMs : undefined;
      const delay = asked ?? backoffMs(options.policy, attempt - 1, options.random);
      if (options.deadline && options.deadline.remainingMs() <= delay) throw error;
      options.onRetry?.(error, delay, attempt);
      await sleep(delay);
    }
  }
}
