import type { Deadline } from "../clock.ts";
import { CloudApiError } from "../errors.ts";
import { withRetry, type RetryPolicy } from "../retry.ts";
import { isRead, type CsipAction } from "./actions.ts";
import type { CsipClient, RequestOf, ResponseOf } from "./client.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/** Whether a failed call of `action` may simply be made again: see `access` in the action table. */
export function mayRetry(action: CsipAction, error: CloudApiError): boolean {
  return isRead(action) ? error.retryable : error.code.startsWith("RequestLimitExceeded");
}

export interface ResilienceOptions {
  limiter: RateLimiter;
  /**
   * Whose budget the calls spend (CSIP limits per account and action): a name that stays the same for
   * one account, never the SecretId, which changes when the role's keys rotate.
   */
  account: string;
  retry: RetryPolicy;
  deadline?: Deadline;
  onRetry?: (action: CsipAction, error: CloudApiError, delayMs: number, attempt: number) => void;
  /**
   * Called before each attempt of a write, once the rate limiter let it go: throws to stop it. A lock
   * holder that may no longer act makes no CSIP task, nor stops or deletes one (StateStore.assertMayAct).
   */
  beforeWrite?: () => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Every call waits for the shared rate limiter, and is retried as its action allows. */
export function resilientClient(inner: CsipClient, options: ResilienceOptions): CsipClient {
  return {
    account: options.account,
    call<A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>> {
      return withRetry<ResponseOf<A>>(
        () =>
          options.limiter.acquire(`${options.account}/${action}`).then(() => {
            if (!isRead(action)) options.beforeWrite?.();
            return inner.call(action, request);
          }),
        {
          policy: options.retry,
          shouldRetry: (error) => error instanceof CloudApiError && mayRetry(action, error),
          deadline: options.deadline,
          ...(options.random ? { random: options.random } : {}),
          ...(options.sleep ? { sleep: options.sleep } : {}),
          onRetry: (error, delay, attempt) => options.onRetry?.(action, error as CloudApiError, delay, attempt),
        },
      );
    },
  };
}
