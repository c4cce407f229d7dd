/**
 * What the triggers csip-scan names start with (shared/state/keys.ts): no policy may be named so. A file of
 * its own, without the schema, so that naming a state key does not build the policy file's schemas (the
 * results-page function's cold start: bench/cold-start.ts).
 */
export const OWN_TRIGGER_PREFIX = "csip-scan-";
