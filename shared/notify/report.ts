import type { AssetKind } from "../assets/kinds.ts";
import type { Policy } from "../config/schema.ts";
import type { RunTrigger } from "../results/model.ts";
import { OUTSIDE_LIMITS, outsideText } from "./outside-text.ts";

/** What the run reports about an unauthorized asset. */
export interface UnauthorizedAsset {
  id: string;
  name: string;
  /** An asset kind, or "url" for a typed-in address CSIP refused. */
  kind: AssetKind | "url";
  region: string;
  memberId?: string;
}

export interface RunError {
  code: string;
  requestId?: string;
  message: string;
}

/** A task as reports show it. */
export interface ReportedTask {
  taskId: string;
  taskName: string;
  assets: number;
}

/** What a run found and did, as far as notifiers are concerned (a run summary holds more). */
export interface RunFacts {
  policy: string;
  trigger: RunTrigger;
  scheduledTime: string;
  unauthorized: UnauthorizedAsset[];
  tasks: ReportedTask[];
  warnings: string[];
  errors: RunError[];
}

/** Where unauthorized assets are authorized, shown in every message that lists them. */
export const HOW_TO_AUTHORIZE =
  "CSIP scans only authorized assets. Authorize them in the Cloud Security Center console " +
  "(https://console.cloud.tencent.com/csip, Asset Center), or for a domain or public IP " +
  "complete its ownership verification there; the next run scans them.";

/**
 * The body of a generic webhook notification (`schema: csip-scan.run/v1`). docs/results.md documents it;
 * change it only by adding fields.
 */
export interface RunReport {
  schema: "csip-scan.run/v1";
  /** Why this message: the `notifyOn` reasons that held. */
  reasons: Policy["notifyOn"];
  policy: string;
  trigger: RunTrigger;
  scheduledTime: string;
  status: "ok" | "failed";
  unauthorizedAssets: UnauthorizedAsset[];
  tasks: ReportedTask[];
  warnings: string[];
  errors: RunError[];
  howToAuthorize: string;
}

/**
 * The report of a run with the `notifyOn` reasons that hold, or undefined when none does.
 * `unauthorizedChanged`: whether the unauthorized assets are worth announcing to this notifier
 * (shared/notify/announce.ts decides).
 */
export function reportFor(policy: Policy, facts: RunFacts, unauthorizedChanged = true): RunReport | undefined {
  const reasons = policy.notifyOn.filter(
    (reason) =>
      reason === "summary" ||
      (reason === "unauthorized" && facts.unauthorized.length > 0 && unauthorizedChanged) ||
      (reason === "failure" && facts.errors.length > 0),
  );
  if (reasons.length === 0) return undefined;
  return {
    schema: "csip-scan.run/v1",
    reasons,
    policy: facts.policy,
    trigger: facts.trigger,
    scheduledTime: facts.scheduledTime,
    status: facts.errors.length === 0 ? "ok" : "failed",
    unauthorizedAssets: facts.unauthorized.map((a) => ({ ...a, name: outsideText(a.name, OUTSIDE_LIMITS.name) })),
    tasks: facts.tasks.map((t) => ({ taskId: t.taskId, taskName: t.taskName, assets: t.assets })),
    // Warnings and errors may quote CSIP's answers: scrubbed, visible, one line each.
    warnings: facts.warnings.map((w) => outsideText(w)),
    errors: facts.errors.map((e) => ({ ...e, message: outsideText(e.message) })),
    howToAuthorize: HOW_TO_AUTHORIZE,
  };
}
