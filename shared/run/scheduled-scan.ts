import { expandGroups, kindsNeeded, policyGroups } from "../assets/expand.ts";
import type { Asset } from "../assets/kinds.ts";
import type { Config, Policy } from "../config/schema.ts";
import { errorFacts, NotFoundError } from "../errors.ts";
import { planScanTasks, taskName, type PlannedTask } from "../scan/requests.ts";
import { executePlanned, finishSummary, newSummary, type RunDeps } from "./policy-run.ts";
import type { RunSummary } from "./summary.ts";

export interface RunRequest {
  policy: string;
  scheduledTime: Date;
  trigger: RunSummary["trigger"];
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

/** The state store key of one policy's run at one scheduled time. */
export function runKey(policy: string, scheduledTime: Date): string {
  return `run/${taskName(policy, scheduledTime, 0).replace(/:0$/, "")}`;
}

/**
 * One scheduled run of one policy: expand its groups over the CSIP inventory, create its scan tasks,
 * and tell its notifiers about unauthorized assets and failures.
 *
 * Runs of the same policy and scheduled time hold one lock and share one record in the state store, so
 * a repeated delivery or a retry creates no second task, sends no second message of the same content,
 * and redoes only what is missing. Never throws for a cloud failure: failures are in `errors`.
 */
export async function runScheduledScan(deps: RunDeps, config: Config, run: RunRequest): Promise<RunSummary> {
  const started = Date.now();
  const policy = findPolicy(config, run.policy);
  const summary = newSummary(policy, run.scheduledTime.toISOString(), run.trigger, run.dryRun ?? false);

  const { assets, knownAssets } = await expandTargets(deps, config, policy, summary);
  summary.durationsMs.inventory = Date.now() - started;
  summary.assets = summary.scanAssetType === 3 ? (policy.urls?.length ?? 0) : assets.length;

  let planned: PlannedTask[] = [];
  if (summary.errors.length === 0) {
    if (summary.scanAssetType === 1 && assets.length === 0) {
      summary.warnings.push(`targets ${policyGroups(policy).join(", ")} expand to no assets; no task was created`);
    } else {
      planned = planScanTasks(policy, assets, (chunk) => taskName(policy.name, run.scheduledTime, chunk));
    }
  }

  if (summary.dryRun) {
    summary.requests = planned.map((p) => p.request);
  } else {
    await executePlanned(deps, config, policy, planned, runKey(policy.name, run.scheduledTime), knownAssets, summary);
  }
  return finishSummary(deps, summary, started);
}

async function expandTargets(
  deps: RunDeps,
  config: Config,
  policy: Policy,
  summary: RunSummary,
): Promise<{ assets: Asset[]; knownAssets: Asset[] }> {
  const groups = policyGroups(policy);
  try {
    const inventory = await deps.inventory.load(kindsNeeded(groups, config.assetGroups), policy.memberIds);
    const expansion = expandGroups(groups, config.assetGroups, inventory);
    summary.assetsPerGroup = expansion.perGroup;
    for (const id of expansion.unknown) {
      summary.warnings.push(`asset "${id}" is listed in a group but CSIP's inventory does not know it; it was not scanned`);
    }
    return { assets: expansion.assets, knownAssets: [...inventory.assets] };
  } catch (error) {
    summary.errors.push(errorFacts(error));
    return { assets: [], knownAssets: [] };
  }
}

