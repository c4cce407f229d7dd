import type { CloudApiError } from "../errors.ts";
import type { Deadline } from "../run/deadline.ts";
import type { CsipAction, CsipClient } from "./client.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";

/**
 * How each action may be retried. A read retries every retryable failure. A write retries only
 * RequestLimitExceeded, which CSIP answers before doing anything; after a timeout or an internal
 * error a write may have happened, so the caller looks before trying again (see shared/scan).
 */
export const ACTION_KINDS: Record<CsipAction, "read" | "write"> = {
  DescribeCVMAssets: "read",
  DescribePublicIpAssets: "read",
  DescribeDomainAssets: "read",
  DescribeDbAssets: "read",
  DescribeScanTaskList: "read",
  CreateRiskCenterScanTask: "write",
  StopRiskCenterTask: "write",
  DeleteRiskScanTask: "write",
  CreateAssetSyncTask: "write",
};

export function mayRetry(action: CsipAction, error: CloudApiError): boolean {
  return ACTION_KINDS[action] === "read" ? error.retryable : error.code.startsWith("RequestLimitExceeded");
}

export interface ResilienceOptions {
  limiter: RateLimiter;
  /** Whose budget the calls spend: the SecretId (CSIP limits per account and action). */
  account: string;
  retry: RetryPolicy;
  deadline?: Deadline;
  onRetry?: (action: CsipAction, error: CloudApiError, delayMs: number, attempt: number) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Every call waits for the shared rate limiter, and is retried as its action allows. */
export function resilientClient(inner: CsipClient, options: ResilienceOptions): CsipClient {
  return {
    call(action, request) {
      return withRetry(
        async () => {
          await options.limiter.acquire(`${options.account}/${action}`);
          return inner.call(action, request);
        },
        {
          policy: options.retry,
          shouldRetry: (error) => mayRetry(action, error),
          ...(options.deadline ? { deadline: options.deadline } : {}),
          ...(options.random ? { random: options.random } : {}),
          ...(options.sleep ? { sleep: options.sleep } : {}),
          onRetry: (error, delay, attempt) => options.onRetry?.(action, error, delay, attempt),
        },
      );
    },
  };
}
