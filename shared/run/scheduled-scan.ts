import { expandGroups, kindsNeeded, policyGroups } from "../assets/expand.ts";
import type { InventoryCache } from "../assets/inventory.ts";
import type { Asset } from "../assets/kinds.ts";
import type { Config, Policy } from "../config/schema.ts";
import type { CsipClient } from "../csip/client.ts";
import { describeError, NotFoundError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deliver, DeliveryResult } from "../notify/deliver.ts";
import { HOW_TO_AUTHORIZE, type RunError, type RunReport, type UnauthorizedAsset } from "../notify/report.ts";
import { createScanTasks } from "../scan/create-tasks.ts";
import { planScanTasks, scanAssetType } from "../scan/requests.ts";
import type { RunSummary } from "./summary.ts";

/** What a run needs from outside, built once and passed in (tests give the emulator and local listeners). */
export interface RunDeps {
  csip: CsipClient;
  inventory: InventoryCache;
  deliver: Deliver;
  logger: Logger;
  now: () => Date;
}

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

/**
 * One scheduled run of one policy: expand its groups over the CSIP inventory, create its scan tasks,
 * and tell its notifiers about unauthorized assets and failures. Never throws for a cloud failure:
 * failures are in the summary's `errors` (an unknown policy does throw).
 */
export async function runScheduledScan(deps: RunDeps, config: Config, run: RunRequest): Promise<RunSummary> {
  const started = Date.now();
  const policy = findPolicy(config, run.policy);
  const summary: RunSummary = {
    policy: policy.name,
    scheduledTime: run.scheduledTime.toISOString(),
    trigger: run.trigger,
    dryRun: run.dryRun ?? false,
    scanAssetType: scanAssetType(policy),
    assetsPerGroup: {},
    assets: 0,
    tasks: [],
    unauthorized: [],
    warnings: [],
    errors: [],
    notifications: [],
    durationsMs: { inventory: 0, tasks: 0, notify: 0, total: 0 },
    ok: true,
  };
  const fail = (error: RunError): void => {
    summary.errors.push(error);
  };

  let assets: Asset[] = [];
  let knownAssets: Asset[] = [];
  const groups = policyGroups(policy);
  try {
    const kinds = kindsNeeded(groups, config.assetGroups);
    const inventory = await deps.inventory.load(kinds, policy.memberIds);
    knownAssets = [...inventory.assets];
    const expansion = expandGroups(groups, config.assetGroups, inventory);
    assets = expansion.assets;
    summary.assetsPerGroup = expansion.perGroup;
    for (const id of expansion.unknown) {
      summary.warnings.push(`asset "${id}" is listed in a group but CSIP's inventory does not know it; it was not scanned`);
    }
  } catch (error) {
    fail(cloudError(error));
  }
  summary.durationsMs.inventory = Date.now() - started;
  summary.assets = summary.scanAssetType === 3 ? (policy.urls?.length ?? 0) : assets.length;

  const tasksStarted = Date.now();
  if (summary.errors.length === 0) {
    if (summary.scanAssetType === 1 && assets.length === 0) {
      summary.warnings.push(`targets ${groups.join(", ")} expand to no assets; no task was created`);
    } else {
      const planned = planScanTasks(policy, assets, run.scheduledTime);
      if (summary.dryRun) {
        summary.requests = planned.map((p) => p.request);
      } else {
        const outcome = await createScanTasks(deps.csip, planned, policy);
        summary.tasks = outcome.created;
        summary.warnings.push(...outcome.warnings);
        for (const f of outcome.failures) {
          fail({ code: f.code, ...(f.requestId ? { requestId: f.requestId } : {}), message: `chunk ${f.chunk}: ${f.message}` });
        }
        summary.unauthorized = outcome.unauthorized.map((value) => describeUnauthorized(value, knownAssets, policy));
      }
    }
  }
  summary.durationsMs.tasks = Date.now() - tasksStarted;
  summary.ok = summary.errors.length === 0;

  const notifyStarted = Date.now();
  if (!summary.dryRun) summary.notifications = await notify(deps, config, policy, summary);
  summary.durationsMs.notify = Date.now() - notifyStarted;
  summary.ok = summary.errors.length === 0 && summary.notifications.every((n) => n.delivered);
  summary.durationsMs.total = Date.now() - started;
  deps.logger.info({ summary }, `policy ${policy.name}: ${summary.tasks.length} task(s), ${summary.unauthorized.length} unauthorized, ${summary.errors.length} error(s)`);
  return summary;
}

function cloudError(error: unknown): RunError {
  const e = error as { code?: string; requestId?: string };
  return { code: e.code ?? "Error", ...(e.requestId ? { requestId: e.requestId } : {}), message: describeError(error) };
}

function describeUnauthorized(value: string, known: readonly Asset[], policy: Policy): UnauthorizedAsset {
  const asset = known.find((a) => a.id === value || a.aliases.includes(value));
  const memberId = asset?.memberId ?? (policy.memberIds?.length === 1 ? policy.memberIds[0] : undefined);
  return {
    id: value,
    name: asset?.name ?? value,
    kind: asset?.kind ?? (policy.urls ? "url" : "cvm"),
    region: asset?.region ?? "",
    ...(memberId ? { memberId } : {}),
  };
}

/** The report for this run if its policy's `notifyOn` asks for one, else undefined. */
export function reportFor(policy: Policy, summary: RunSummary): RunReport | undefined {
  const reasons = policy.notifyOn.filter(
    (reason) =>
      reason === "summary" ||
      (reason === "unauthorized" && summary.unauthorized.length > 0) ||
      (reason === "failure" && summary.errors.length > 0),
  );
  if (reasons.length === 0) return undefined;
  return {
    schema: "csip-scan.run/v1",
    reasons,
    policy: summary.policy,
    trigger: summary.trigger,
    scheduledTime: summary.scheduledTime,
    status: summary.ok ? "ok" : "failed",
    unauthorizedAssets: summary.unauthorized,
    tasks: summary.tasks.map((t) => ({ taskId: t.taskId, taskName: t.taskName, assets: t.assets })),
    warnings: summary.warnings,
    errors: summary.errors,
    howToAuthorize: HOW_TO_AUTHORIZE,
  };
}

async function notify(deps: RunDeps, config: Config, policy: Policy, summary: RunSummary): Promise<DeliveryResult[]> {
  const report = reportFor(policy, summary);
  if (!report) return [];
  return Promise.all(
    policy.notify.map((name) => {
      const notifier = config.notifiers[name]!;
      return deps.deliver(name, notifier, report);
    }),
  );
}
