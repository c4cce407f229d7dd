import { createHash } from "node:crypto";
import { expandGroups, kindsNeeded, policyGroups } from "../assets/expand.ts";
import type { InventoryCache } from "../assets/inventory.ts";
import type { Asset } from "../assets/kinds.ts";
import { durationMs, type Config, type Policy } from "../config/schema.ts";
import type { CsipClient } from "../csip/client.ts";
import type { RetryPolicy } from "../csip/retry.ts";
import { describeError, NotFoundError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deliver, DeliveryResult } from "../notify/deliver.ts";
import { HOW_TO_AUTHORIZE, type RunError, type RunReport, type UnauthorizedAsset } from "../notify/report.ts";
import { createScanTasks, emptyRecord, type RunRecord } from "../scan/create-tasks.ts";
import { planScanTasks, scanAssetType, taskName, type PlannedTask } from "../scan/requests.ts";
import type { StateStore } from "../state/store.ts";
import type { Deadline } from "./deadline.ts";
import type { RunSummary } from "./summary.ts";

/** What a run needs from outside, built once and passed in (tests give the emulator and local listeners). */
export interface RunDeps {
  /** A client that limits its rate and retries what may be retried. */
  csip: CsipClient;
  inventory: InventoryCache;
  deliver: Deliver;
  logger: Logger;
  store: StateStore;
  deadline: Deadline;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  now: () => Date;
  sleep?: (ms: number) => Promise<void>;
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

  const { assets, knownAssets } = await expandTargets(deps, config, policy, summary);
  summary.durationsMs.inventory = Date.now() - started;
  summary.assets = summary.scanAssetType === 3 ? (policy.urls?.length ?? 0) : assets.length;

  let planned: PlannedTask[] = [];
  if (summary.errors.length === 0) {
    if (summary.scanAssetType === 1 && assets.length === 0) {
      summary.warnings.push(`targets ${policyGroups(policy).join(", ")} expand to no assets; no task was created`);
    } else {
      planned = planScanTasks(policy, assets, run.scheduledTime);
    }
  }

  if (summary.dryRun) {
    summary.requests = planned.map((p) => p.request);
  } else {
    const key = runKey(policy.name, run.scheduledTime);
    try {
      await deps.store.withLock(key, { ttlMs: deps.deadline.remainingMs() + 60_000, waitMs: deps.deadline.remainingMs() }, async () => {
        const record = (await deps.store.get<RunRecord>(key)) ?? emptyRecord();
        const save = (): Promise<void> => deps.store.set(key, record);
        await createTasks(deps, policy, planned, record, save, knownAssets, summary);
        summary.ok = summary.errors.length === 0;
        const notifyStarted = Date.now();
        summary.notifications = await notify(deps, config, policy, summary, record);
        summary.durationsMs.notify = Date.now() - notifyStarted;
        await save();
      });
    } catch (error) {
      summary.errors.push(runError(error));
    }
  }
  summary.ok = summary.errors.length === 0 && summary.notifications.every((n) => n.delivered);
  summary.durationsMs.total = Date.now() - started;
  deps.logger.info(
    { summary },
    `policy ${policy.name}: ${summary.tasks.length} task(s), ${summary.unauthorized.length} unauthorized, ${summary.errors.length} error(s)`,
  );
  return summary;
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
    summary.errors.push(runError(error));
    return { assets: [], knownAssets: [] };
  }
}

async function createTasks(
  deps: RunDeps,
  policy: Policy,
  planned: PlannedTask[],
  record: RunRecord,
  save: () => Promise<void>,
  knownAssets: Asset[],
  summary: RunSummary,
): Promise<void> {
  const started = Date.now();
  const outcome = await createScanTasks(
    {
      csip: deps.csip,
      policy,
      record,
      save,
      retry: deps.retry,
      requestTimeoutMs: deps.requestTimeoutMs,
      deadline: deps.deadline,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    },
    planned,
  );
  summary.tasks = outcome.created;
  summary.warnings.push(...outcome.warnings);
  for (const f of outcome.failures) {
    summary.errors.push({ code: f.code, ...(f.requestId ? { requestId: f.requestId } : {}), message: `chunk ${f.chunk}: ${f.message}` });
  }
  summary.unauthorized = outcome.unauthorized.map((value) => describeUnauthorized(value, knownAssets, policy));
  summary.durationsMs.tasks = Date.now() - started;
}

function runError(error: unknown): RunError {
  const e = error as { code?: string; requestId?: string; name?: string };
  const code = typeof e.code === "string" ? e.code : (e.name ?? "Error");
  return { code, ...(e.requestId ? { requestId: e.requestId } : {}), message: describeError(error) };
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

export type Reason = RunReport["reasons"][number];

/** The report for this run with the reasons that hold, or undefined when none does. */
export function reportFor(policy: Policy, summary: RunSummary, unauthorizedIsNews = true): RunReport | undefined {
  const reasons = policy.notifyOn.filter(
    (reason) =>
      reason === "summary" ||
      (reason === "unauthorized" && summary.unauthorized.length > 0 && unauthorizedIsNews) ||
      (reason === "failure" && summary.errors.length > 0),
  );
  if (reasons.length === 0) return undefined;
  return {
    schema: "csip-scan.run/v1",
    reasons,
    policy: summary.policy,
    trigger: summary.trigger,
    scheduledTime: summary.scheduledTime,
    status: summary.errors.length === 0 ? "ok" : "failed",
    unauthorizedAssets: summary.unauthorized,
    tasks: summary.tasks.map((t) => ({ taskId: t.taskId, taskName: t.taskName, assets: t.assets })),
    warnings: summary.warnings,
    errors: summary.errors,
    howToAuthorize: HOW_TO_AUTHORIZE,
  };
}

/** What a notifier was last told about a policy's unauthorized assets. */
interface Announcement {
  /** Hash of the sorted unauthorized asset IDs. */
  set: string;
  /** When it was said, ms since the epoch. */
  at: number;
}

function setHash(values: readonly string[]): string {
  return createHash("sha256").update([...values].sort().join("\n")).digest("hex");
}

/**
 * Sends the report to each notifier. The unauthorized assets are news to a notifier when the set
 * differs from the one it was last told, or `remindAfter` has passed since; a run whose very content
 * was already sent (a repeated delivery) sends nothing again.
 */
async function notify(deps: RunDeps, config: Config, policy: Policy, summary: RunSummary, record: RunRecord): Promise<DeliveryResult[]> {
  const now = deps.now().getTime();
  const current = setHash(summary.unauthorized.map((a) => a.id));
  const results: DeliveryResult[] = [];
  await Promise.all(
    policy.notify.map(async (name) => {
      const key = `announced/${policy.name}/${name}`;
      const last = await deps.store.get<Announcement>(key);
      const news = !last || last.set !== current || now - last.at >= durationMs(policy.remindAfter);
      const report = reportFor(policy, summary, news);
      if (!report) {
        if (!last || last.set !== current) await deps.store.set(key, { set: current, at: now });
        return;
      }
      const hash = createHash("sha256").update(JSON.stringify(report)).digest("hex");
      if (record.notified[name] === hash) {
        results.push({ notifier: name, delivered: true, via: "sent before" });
        return;
      }
      const result = await deps.deliver(name, config.notifiers[name]!, report);
      results.push(result);
      if (result.delivered) {
        record.notified[name] = hash;
        if (report.reasons.includes("unauthorized") || summary.unauthorized.length === 0) await deps.store.set(key, { set: current, at: now });
      }
    }),
  );
  return results.sort((a, b) => policy.notify.indexOf(a.notifier) - policy.notify.indexOf(b.notifier));
}
