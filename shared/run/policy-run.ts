import { createHash } from "node:crypto";
import type { InventoryCache } from "../assets/inventory.ts";
import type { Asset } from "../assets/kinds.ts";
import { durationMs, type Config, type Policy } from "../config/schema.ts";
import type { CsipClient } from "../csip/client.ts";
import type { RetryPolicy } from "../csip/retry.ts";
import { errorFacts } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deliver, DeliveryResult } from "../notify/deliver.ts";
import { HOW_TO_AUTHORIZE, type RunReport, type UnauthorizedAsset } from "../notify/report.ts";
import { createScanTasks, emptyRecord, type RunRecord } from "../scan/create-tasks.ts";
import { scanAssetType, type PlannedTask } from "../scan/requests.ts";
import type { StateStore } from "../state/store.ts";
import type { Deadline } from "./deadline.ts";
import type { RunSummary } from "./summary.ts";

/**
 * What every run of a policy shares, whatever fired it (a timer or an asset change): creating the
 * planned tasks exactly once under a lock, telling the notifiers, and closing the summary.
 */

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

/** A summary with nothing done yet. */
export function newSummary(policy: Policy, scheduledTime: string, trigger: RunSummary["trigger"], dryRun = false): RunSummary {
  return {
    policy: policy.name,
    scheduledTime,
    trigger,
    dryRun,
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
}

/**
 * Creates the planned tasks and notifies, holding the lock `key` and keeping the run's record under
 * it, so that a repeated delivery or a retry creates no second task, sends no second message of the
 * same content, and redoes only what is missing.
 */
export async function executePlanned(
  deps: RunDeps,
  config: Config,
  policy: Policy,
  planned: PlannedTask[],
  key: string,
  knownAssets: Asset[],
  summary: RunSummary,
): Promise<void> {
  try {
    await deps.store.withLock(key, { ttlMs: deps.deadline.remainingMs() + 60_000, waitMs: deps.deadline.remainingMs() }, async () => {
      const record = (await deps.store.get<RunRecord>(key)) ?? emptyRecord();
      const save = (): Promise<void> => deps.store.set(key, record);
      await createTasks(deps, policy, planned, record, save, knownAssets, summary);
      const notifyStarted = Date.now();
      summary.notifications = await notify(deps, config, policy, summary, record);
      summary.durationsMs.notify = Date.now() - notifyStarted;
      await save();
    });
  } catch (error) {
    summary.errors.push(errorFacts(error));
  }
}

/** Sets `ok` and the total time, and logs the summary as one JSON line. */
export function finishSummary(deps: RunDeps, summary: RunSummary, started: number): RunSummary {
  summary.ok = summary.errors.length === 0 && summary.notifications.every((n) => n.delivered);
  summary.durationsMs.total = Date.now() - started;
  deps.logger.info(
    { summary },
    `policy ${summary.policy}: ${summary.tasks.length} task(s), ${summary.unauthorized.length} unauthorized, ${summary.errors.length} error(s)`,
  );
  return summary;
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
      // Event-driven runs see a few assets at a time: they keep their own memory, so they do not
      // disturb the reminders of the scheduled runs.
      const key = `announced/${summary.trigger === "asset-change" ? "change:" : ""}${policy.name}/${name}`;
      const last = await deps.store.get<Announcement>(key);
      // Decided once per run: a repeated delivery must build the very report the first one sent.
      const news = record.news?.[name] ?? (!last || last.set !== current || now - last.at >= durationMs(policy.remindAfter));
      record.news = { ...record.news, [name]: news };
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
