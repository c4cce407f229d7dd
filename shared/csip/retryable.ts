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

/**
 * Refusals of the keys themselves: a SecretId CAM does not know (a role's temporary key after SCF gave
 * the instance new ones) or a token it no longer takes. The keys are read again and, when they changed,
 * the call is made once more: a request refused at authentication did nothing, so even a create may be
 * sent again. Common error codes: https://cloud.tencent.com/document/api/664/90810
 */
export const REFUSED_KEY_CODES: readonly string[] = ["AuthFailure.SecretIdNotFound", "AuthFailure.TokenFailure"];

export function isRefusedKey(code: string): boolean {
  return REFUSED_KEY_CODES.includes(code);
}
