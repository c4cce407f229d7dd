/**
 * Which failures a retry may cure. One table: codes are matched by exact name or by prefix
 * (`RequestLimitExceeded` covers `RequestLimitExceeded.UinLimitExceeded`).
 * Common error codes: https://cloud.tencent.com/document/api/664/90809
 */
export const RETRYABLE_CODES: readonly string[] = [
  "RequestLimitExceeded",
  "InternalError",
  "ResourceUnavailable",
  // Codes the project gives to failures that carry no API code (see client.ts).
  "Timeout",
  "NetworkError",
  "HttpError.5", // HTTP 5xx, e.g. HttpError.503
];

export function isRetryableCode(code: string): boolean {
  return RETRYABLE_CODES.some((known) => code.startsWith(known));
}

/**
 * Failures after which a write may or may not have happened: the request may have reached CSIP.
 * After one of these, a task is looked up by name before it is created again.
 */
export const AMBIGUOUS_WRITE_CODES: readonly string[] = ["Timeout", "NetworkError", "InternalError", "HttpError.5", "BadResponse"];

export function isAmbiguousWrite(code: string): boolean {
  return AMBIGUOUS_WRITE_CODES.some((known) => code.startsWith(known));
}
