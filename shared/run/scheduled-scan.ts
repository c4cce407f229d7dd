import { expandGroups, kindsNeeded, policyGroups } from "../assets/expand.ts";
import type { Asset } from "../assets/kinds.ts";
import type { Config, Policy } from "../config/schema.ts";
import { SCAN_ASSET_TYPE } from "../csip/actions.ts";
import { errorFacts, NotFoundError } from "../errors.ts";
import type { RunError, RunTrigger } from "../notify/report.ts";
import { planScanTasks, scanAssetType, type PlannedTask } from "../scan/requests.ts";
import { scheduledRunNames } from "../state/keys.ts";
import { createAndAnnounce } from "./policy-run.ts";
import type { RunContext } from "./services.ts";
import { summarize, type RunSummary } from "./summary.ts";

export interface RunRequest {
  policy: string;
  scheduledTime: Date;
  trigger: RunTrigger;
  dryRun?: boolean;
}

/** The named policy, or a NotFoundError that lists the known names. */
export function findPolicy(config: Config, name: string): Policy {
  const policy = config.policies.find((p) => p.name === name);
  if (!policy) {
    throw new NotFoundError(`unknown policy "${name}" (known: ${config.policies.map((p) => p.name).join(", ")})`);
  }
  return policy;
}

/**
 * A warning when the inventory walk used more than half the time the run had: the tasks and messages
 * still to come may not fit, and the estate has outgrown one invocation (fan out per member account or
 * per policy: the README's sizing table).
 */
export function walkTookTooLong(walkMs: number, budgetMs: number): string | undefined {
  if (!(budgetMs > 0) || walkMs <= budgetMs / 2) return undefined;
  return `the inventory walk took ${(walkMs / 1000).toFixed(0)} s of the ${(budgetMs / 1000).toFixed(0)} s the run had: split the policies over several schedules or member accounts before the walk outgrows the function's timeout`;
}

/** A policy's groups expanded over the run's inventory, or what went wrong. */
interface Targets {
  assets: Asset[];
  /** Every asset the inventory holds for the policy's scope, to name unauthorized ones. */
  knownAssets: Asset[];
  perGroup: Record<string, number>;
  warnings: string[];
  errors: RunError[];
}

async function expandTargets(run: RunContext, policy: Policy): Promise<Targets> {
  const groups = policyGroups(policy);
  try {
    const inventory = await run.inventory.load(kindsNeeded(groups, run.config.assetGroups), policy.memberIds);
    const expansion = expandGroups(groups, run.config.assetGroups, inventory);
    return {
      assets: expansion.assets,
      knownAssets: [...inventory.assets],
      perGroup: expansion.perGroup,
      warnings: expansion.unknown.map((id) => `asset "${id}" is listed in a group but CSIP's inventory does not know it; it was not scanned`),
      errors: [],
    };
  } catch (error) {
    return { assets: [], knownAssets: [], perGroup: {}, warnings: [], errors: [errorFacts(error)] };
  }
}

/**
 * One scheduled run of one policy: expand its groups over the CSIP inventory, create its scan tasks,
 * and tell its notifiers about unauthorized assets and failures.
 *
 * Runs of the same policy and scheduled time hold one lock and share one record in the state store, so
 * a repeated delivery or a retry creates no second task, sends no second message of the same content,
 * and redoes only what is missing. Never throws for a cloud failure: failures are in `errors`.
 */
export async function runScheduledScan(run: RunContext, request: RunRequest): Promise<RunSummary> {
  const started = run.clock.now();
  const budgetMs = run.deadline.remainingMs();
  const policy = findPolicy(run.config, request.policy);
  const type = scanAssetType(policy);
  const names = scheduledRunNames(policy.name, request.scheduledTime);

  const targets = await expandTargets(run, policy);
  const inventoryMs = run.clock.now() - started;
  const warnings = [...targets.warnings];
  const slow = walkTookTooLong(inventoryMs, budgetMs);
  if (slow) warnings.push(slow);
  let planned: PlannedTask[] = [];
  if (targets.errors.length === 0) {
    if (type === SCAN_ASSET_TYPE.listed && targets.assets.length === 0) {
      warnings.push(`targets ${policyGroups(policy).join(", ")} expand to no assets; no task was created`);
    } else {
      planned = planScanTasks(policy, targets.assets, names.taskName);
    }
  }
  const scheduledTime = request.scheduledTime.toISOString();
  const dryRun = request.dryRun ?? false;
  const done = dryRun
    ? undefined
    : await createAndAnnounce(run, policy, names, planned, { scheduledTime, trigger: request.trigger, knownAssets: targets.knownAssets, warnings, errors: targets.errors });

  return summarize(run.logger, {
    policy: policy.name,
    scheduledTime,
    trigger: request.trigger,
    dryRun,
    scanAssetType: type,
    assetsPerGroup: targets.perGroup,
    assets: type === SCAN_ASSET_TYPE.typedIn ? (policy.urls?.length ?? 0) : targets.assets.length,
    tasks: done?.tasks ?? [],
    ...(dryRun ? { requests: planned.map((p) => p.request) } : {}),
    unauthorized: done?.unauthorized ?? [],
    warnings: [...warnings, ...(done?.warnings ?? [])],
    errors: [...targets.errors, ...(done?.errors ?? [])],
    notifications: done?.notifications ?? [],
    durationsMs: { inventory: inventoryMs, tasks: done?.durationsMs.tasks ?? 0, notify: done?.durationsMs.notify ?? 0, total: run.clock.now() - started },
  });
}
