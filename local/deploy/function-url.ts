import type { ExistingTrigger } from "./triggers.ts";

/**
 * The results-page function's URL: an `http` trigger (CreateTrigger Type `http`), which the pinned
 * serverless-tencent-scf cannot make. TriggerDesc as the "create a function URL" document gives it
 * (https://cloud.tencent.com/document/product/583/100227): AuthType NONE (anyone may call it: the links
 * carry their own signature) and NetConfig with the public URL on, the internal one off. SCF keeps the URL
 * it made in the stored TriggerDesc (ListTriggers' official example: `NetConfig.ExtranetUrl`), and it stays
 * the same for the life of the trigger (583/69491), so the deploy reads it back from there.
 */

/** The variable the functions find the pages' URL in (shared/env.ts `pageUrl`). */
export const PAGE_URL_VARIABLE = "CSIP_SCAN_PAGE_URL";

/** The name the deploy gives the trigger; SCF's example names one by its URL's id, so the deploy finds it by type, not name. */
export const FUNCTION_URL_TRIGGER = "csip-scan-page";

/** The version the functions are deployed as (the pinned plugin publishes none): one URL per version or alias. */
export const FUNCTION_URL_QUALIFIER = "$LATEST";

export const FUNCTION_URL_DESC = { AuthType: "NONE", NetConfig: { EnableIntranet: false, EnableExtranet: true } } as const;

/** A stored TriggerDesc as an object ({} when it is not JSON). */
function descOf(trigger: ExistingTrigger): { AuthType?: unknown; NetConfig?: { EnableExtranet?: unknown; ExtranetUrl?: unknown } } {
  try {
    return JSON.parse(trigger.TriggerDesc ?? "") as never;
  } catch {
    return {};
  }
}

/** The public URL a Function URL trigger holds, when it has one. */
export function extranetUrl(trigger: ExistingTrigger): string | undefined {
  const url = descOf(trigger).NetConfig?.ExtranetUrl;
  return typeof url === "string" && /^https:\/\//.test(url) ? url : undefined;
}

/** The function's URL on the deployed version, if SCF holds one. */
export function functionUrlTrigger(existing: readonly ExistingTrigger[]): ExistingTrigger | undefined {
  return existing.find((t) => t.Type === "http" && (t.Qualifier ?? FUNCTION_URL_QUALIFIER) === FUNCTION_URL_QUALIFIER);
}

/**
 * What the deploy does about the URL: keep one that is open and public; update one someone closed (CAM
 * authentication, or the public URL off: the links would not open); create it when missing.
 */
export function functionUrlChange(existing: readonly ExistingTrigger[]): { action: "keep"; trigger: ExistingTrigger } | { action: "update"; trigger: ExistingTrigger } | { action: "create" } {
  const trigger = functionUrlTrigger(existing);
  if (!trigger) return { action: "create" };
  const desc = descOf(trigger);
  return desc.AuthType === "NONE" && desc.NetConfig?.EnableExtranet === true ? { action: "keep", trigger } : { action: "update", trigger };
}

export function createFunctionUrlRequest(functionName: string, namespace: string) {
  return {
    FunctionName: functionName,
    Namespace: namespace,
    Type: "http",
    TriggerName: FUNCTION_URL_TRIGGER,
    TriggerDesc: JSON.stringify(FUNCTION_URL_DESC),
    Qualifier: FUNCTION_URL_QUALIFIER,
    Enable: "OPEN",
  };
}

/** UpdateTrigger takes `http` triggers (its parameter list); the trigger is named as SCF holds it. */
export function updateFunctionUrlRequest(functionName: string, namespace: string, trigger: ExistingTrigger) {
  return {
    FunctionName: functionName,
    Namespace: namespace,
    Type: "http",
    TriggerName: trigger.TriggerName ?? FUNCTION_URL_TRIGGER,
    TriggerDesc: JSON.stringify(FUNCTION_URL_DESC),
    Qualifier: trigger.Qualifier ?? FUNCTION_URL_QUALIFIER,
  };
}

/** The variable a person names a stage's own pages' URL in where the deploy runs: `CSIP_SCAN_PAGE_URL_PROD` for `prod`. */
export function stagePageUrlVariable(stage: string): string {
  return `${PAGE_URL_VARIABLE}_${stage.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * The pages' URL a person gives the deployed `stage` (a gateway of theirs in front of the function URL), from
 * the variables where the deploy runs: the stage's own, `CSIP_SCAN_PAGE_URL_<STAGE>`. A plain
 * CSIP_SCAN_PAGE_URL set in a shell would reach whichever stage is deployed from it next, and every message
 * of that stage would link another stage's gateway: it is taken only beside the stage's own, with the same
 * value, and refused otherwise. Undefined when neither is set: the deploy's function URL then.
 */
export function stagePageUrl(stage: string, variables: Readonly<Record<string, string | undefined>>): { url: string | undefined } | { problem: string } {
  const own = stagePageUrlVariable(stage);
  const url = variables[own] || undefined;
  const shellWide = variables[PAGE_URL_VARIABLE] || undefined;
  if (shellWide !== undefined && shellWide !== url) {
    return {
      problem: `${PAGE_URL_VARIABLE} is set where you deploy and would apply to whichever stage is deployed: to give stage ${stage} a URL of your own, set ${own} (and unset ${PAGE_URL_VARIABLE}); to use the function URL the deploy makes, unset ${PAGE_URL_VARIABLE}`,
    };
  }
  if (url !== undefined && !/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(url)) return { problem: `${own} must be an https:// URL with no query, such as https://reports.example.com/csip` };
  return { url };
}
