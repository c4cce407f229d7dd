import { CloudApiError } from "../errors.ts";
import type { Deadline } from "../run/deadline.ts";

export interface RetryPolicy {
  /** First backoff ceiling, in ms. */
  baseMs: number;
  /** Largest backoff, in ms. */
  capMs: number;
  /** Tries in all, the first included. */
  attempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 200, capMs: 5000, attempts: 5 };

/**
 * Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^retry)).
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** retry));
}

export interface RetryOptions {
  policy: RetryPolicy;
  /** Which failures to try again. */
  shouldRetry: (error: CloudApiError) => boolean;
  deadline?: Deadline;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told about each retry, for logs and tests. */
  onRetry?: (error: CloudApiError, delayMs: number, attempt: number) => void;
}

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call` until it succeeds, fails with something not to retry, runs out of attempts, or the
 * next wait would end past the deadline. Rethrows the last error.
 */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? sleepFor;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof CloudApiError) || !options.shouldRetry(error) || attempt >= options.policy.attempts) throw error;
      const delay = backoffMs(options.policy, attempt - 1, options.random);
      if (options.deadline && options.deadline.remainingMs() <= delay) throw error;
      options.onRetry?.(error, delay, attempt);
      await sleep(delay);
    }
  }
}
