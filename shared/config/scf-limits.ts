/**
 * The SCF limits csip-scan's deploy must keep (https://cloud.tencent.com/document/product/583/11637,
 * "Quota limits"; trigger names: 583/9708). `validate` refuses a policy file that would break them, and
 * the deploy refuses before any call. Change a row here if SCF's quotas change.
 */
export const SCF_LIMITS = {
  /** Triggers of one type on one function. */
  triggersPerType: 10,
  /** A function's environment variables, keys and values together, in bytes. */
  environmentBytes: 4096,
  /** A trigger's name. */
  triggerNameLength: 60,
} as const;
