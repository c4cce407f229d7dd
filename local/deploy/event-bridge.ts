import { describeError } from "../../shared/errors.ts";
import { eventPattern } from "../../shared/events/extractors.ts";
import type { DeployClients } from "./cloud.ts";

/**
 * What to do about CreateTarget's documented errors (FailedOperation.CreateTrigger, ResourceNotFound.Role,
 * ResourceNotFound.Version, LimitExceeded.Trigger): an SCF target makes a trigger on the function.
 */
const TARGET_ERROR_HINTS: Readonly<Record<string, string>> = {
  "ResourceNotFound.Role": "activate EventBridge in its console once: that creates its service role, which a target needs to make the function's trigger",
  "ResourceNotFound.Version": "the function lacks the version the target names: deploy the functions first",
  "LimitExceeded.Trigger": "the function already holds 10 EventBridge triggers: delete targets of other rules that point at it",
  "FailedOperation.CreateTrigger": "SCF could not make the target's trigger, often because the function is still updating: deploy again in a minute",
};

/** Why the rule could not be made, for people: the error, its code and RequestId, and what to do when known. */
export function ruleErrorMessage(error: unknown): string {
  const { code, requestId } = (error ?? {}) as { code?: unknown; requestId?: unknown };
  const where = [typeof code === "string" ? code : undefined, typeof requestId === "string" ? `RequestId ${requestId}` : undefined].filter(Boolean).join(", ");
  const hint = typeof code === "string" && Object.hasOwn(TARGET_ERROR_HINTS, code) ? `: ${TARGET_ERROR_HINTS[code]}` : "";
  return `${describeError(error)}${where ? ` (${where})` : ""}${hint}`;
}

/**
 * The rule a deployment keeps on the bus: one, named after the function it targets
 * (`csip-scan-dev-asset-change`), so that each stage's deploy finds its own again and leaves another
 * stage's rule and target alone. A rule an earlier version made for every stage, `csip-scan-asset-change`,
 * is left in place: delete it by hand (while both exist, an event is handled twice, and exactly-once
 * creation keeps that to one task).
 */
export function ruleNameFor(functionName: string): string {
  return functionName;
}

/** What making the rule did, for the deploy's log. */
export interface RuleOutcome {
  ruleName: string;
  ruleId: string;
  created: boolean;
  targetsAdded: number;
  targetsRemoved: number;
}

/**
 * The qualifier the target invokes: `$LATEST`, the version every public example of an SCF target names
 * (CreateTarget's TargetDescription document, the Terraform provider's tencentcloud_eb_event_target
 * example), and the one the deploy updates; CreateTarget refuses a qualifier the function lacks
 * (ResourceNotFound.Version). Evidence: local/cloud/ASSUMPTIONS.md.
 */
export const TARGET_QUALIFIER = "$LATEST";

/**
 * Creates or updates the rule that sends the events the extractor table handles (its pattern) to the
 * asset-change function, on the named bus. The target's resource is the function's QCS name
 * (`qcs::scf:REGION:uin/UIN:namespace/NAMESPACE/function/NAME/$LATEST`); targets of the rule that point
 * elsewhere (an earlier deploy's `$DEFAULT` one too) are removed, since the rule is csip-scan's own.
 */
export async function ensureRule(
  clients: DeployClients,
  target: { bus: string; region: string; uin: string; namespace: string; functionName: string },
): Promise<RuleOutcome> {
  const buses = await clients.eb.ListEventBuses({ Filters: [{ Name: "EventBusName", Values: [target.bus] }], Limit: 100 });
  const bus = (buses.EventBuses ?? []).find((b) => b.EventBusName === target.bus);
  if (!bus?.EventBusId) throw new Error(`EventBridge has no event bus named "${target.bus}" in ${target.region}`);
  const EventBusId = bus.EventBusId;
  const EventPattern = JSON.stringify(eventPattern());
  const Description = "csip-scan: scan assets when they change (made by the deploy)";
  const ruleName = ruleNameFor(target.functionName);

  let existing: string | undefined;
  for (let Offset = 0; existing === undefined; Offset += 100) {
    const page = await clients.eb.ListRules({ EventBusId, Limit: 100, Offset });
    existing = (page.Rules ?? []).find((r) => r.RuleName === ruleName)?.RuleId;
    if ((page.Rules ?? []).length < 100) break;
  }
  let ruleId: string;
  if (existing) {
    await clients.eb.UpdateRule({ RuleId: existing, EventBusId, EventPattern, Enable: true, Description });
    ruleId = existing;
  } else {
    const made = await clients.eb.CreateRule({ EventBusId, RuleName: ruleName, EventPattern, Enable: true, Description });
    if (!made.RuleId) throw new Error("EventBridge CreateRule answered no RuleId");
    ruleId = made.RuleId;
  }

  const resource = `qcs::scf:${target.region}:uin/${target.uin}:namespace/${target.namespace}/function/${target.functionName}/${TARGET_QUALIFIER}`;
  const targets = (await clients.eb.ListTargets({ EventBusId, RuleId: ruleId, Limit: 100 })).Targets ?? [];
  let removed = 0;
  for (const t of targets) {
    if (t.Type === "scf" && t.TargetDescription?.ResourceDescription === resource) continue;
    if (t.TargetId) {
      await clients.eb.DeleteTarget({ EventBusId, RuleId: ruleId, TargetId: t.TargetId });
      removed++;
    }
  }
  const present = targets.some((t) => t.Type === "scf" && t.TargetDescription?.ResourceDescription === resource);
  if (!present) await clients.eb.CreateTarget({ EventBusId, RuleId: ruleId, Type: "scf", TargetDescription: { ResourceDescription: resource } });
  return { ruleName, ruleId, created: !existing, targetsAdded: present ? 0 : 1, targetsRemoved: removed };
}
