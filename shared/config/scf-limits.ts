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

/**
 * A function's name: a letter first, then letters, digits, `_` or `-`, a letter or digit last, 2 to 60
 * characters (CreateFunction's FunctionName, https://cloud.tencent.com/document/api/583/18586). A
 * deployed name is `csip-scan-STAGE-FUNCTION`, so this also bounds the stage a deploy may name.
 */
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$/;
