import * as z from "zod";
import { durationMs, type Policy } from "../config/schema.ts";
import { describeError, errorFacts, LockBusyError } from "../errors.ts";
import { PartsSentSchema, partsProgress } from "../notify/parts-sent.ts";
import type { DeliveryResult } from "../notify/deliver.ts";
import { messageId } from "../notify/webhook.ts";
import type { RunError } from "../notify/report.ts";
import { resultsReport, type ResultsReport } from "../notify/results-report.ts";
import { compareWithPrevious, rememberResults } from "../results/compare.ts";
import { currentFindings } from "../results/findings.ts";
import { removeDuplicateTasks } from "../results/duplicates.ts";
import { NO_COMPARISON, type Finding, type MissingPart, type RunResults, type TaskResult } from "../results/model.ts";
import { describeRemoval, type DuplicateRemoval } from "../scan/task-list.ts";
import { closeRun, memberIdsOf, memberScopes, openRuns, runsFromTaskList, trackRun, type OpenRun } from "../results/open-runs.ts";
import { reportLinks } from "../results/reports.ts";
import { taskStatesOfRuns } from "../results/task-states.ts";
import { linkShown } from "../secrets.ts";
import { parseTaskName, resultsKey } from "../state/keys.ts";
import { LEASE_MS, LONGEST_LOOK_INTERVAL_MS } from "../state/lease.ts";
import type { ActionReading } from "../csip/filter-readings.ts";
import { runReadings } from "./filter-readings.ts";
import { legacyAdoptedAt } from "./legacy-state.ts";
import { publishResultsPage } from "./results-page.ts";
import type { RunContext } from "./services.ts";

/** What telling one run's results did. */
export interface ToldRun {
  run: string;
  policy: string;
  scheduledTime: string;
  /** The results' status, or why nothing was sent. */
  status: ResultsReport["status"] | "not asked for (notifyOn)" | "policy no longer in the file";
  riskCount: number;
  notifications: DeliveryResult[];
  /**
   * Where the policy's results page is, when one was published: the link's origin and path. The message
   * carries the whole signed link; a summary is logged and returned, and keeps nothing that opens the page.
   */
  page?: string;
}

/** What one scan-results invocation did. */
export interface ScanResultsSummary {
  trigger: "results";
  /** The slot of this invocation (the latest fire time of `results.checkEvery`). */
  scheduledTime: string;
  /** Where the runs were found: the shared state store, or CSIP's task list by task names. */
  source: "state store" | "task list";
  /** Runs looked at, runs told, runs still waiting (and why). */
  open: number;
  told: ToldRun[];
  waiting: { run: string; reason: string }[];
  /** Duplicate csip-scan tasks found in the task list, and what was done with them. */
  duplicatesRemoved: DuplicateRemoval[];
  /** DescribeScanTaskList calls made to read the tasks' states. */
  taskListCalls: number;
  /** How the account took each filter this look sent (shared/run/filter-readings.ts). */
  filterReadings: ActionReading[];
  warnings: string[];
  errors: RunError[];
  ok: boolean;
  /**
   * Whether SCF may retry a failed look. False without a durable state store once a message went out:
   * the retry, in another instance, would not know and would send it again.
   */
  retry: boolean;
}

/**
 * Whether a run's results were told, and to whom. The message is built once, stored here before it is
 * first sent, and sent as stored to every notifier and on every later look; each notifier once.
 */
const ToldSchema = z.object({
  told: z.boolean(),
  /** Per notifier, the ID of the message it got (a content hash in records of older versions). */
  notified: z.record(z.string(), z.string()),
  message: z.object({ id: z.string(), report: z.string() }).optional(),
  /** Per notifier not yet told, the parts of its split message it has: a later look sends only the rest. */
  partsSent: z.record(z.string(), PartsSentSchema).optional(),
});
type Told = z.infer<typeof ToldSchema>;

/**
 * Follows csip-scan's tasks to their end and tells people what they found: one results message per
 * policy run, when every task of the run has ended, or when `results.giveUpAfter` has passed (then
 * with what is known and what still runs).
 *
 * Every look reads csip-scan's recent tasks in CSIP's task list, and removes the duplicates a late
 * create left (the oldest of a name is kept). With a durable state store the runs are the ones the
 * policy runs remembered, their tasks read by TaskId, 100 a call, and each run is told once under a
 * lock, whatever the number of invocations. Without one (each SCF instance remembers only in memory),
 * the runs are read from the task list by their names, and a run is told by the invocation whose slot
 * its end falls in: the window (slot - checkEvery, slot], so that invocations one `checkEvery` apart
 * each tell a run once; and a failed delivery is not retried by SCF once another was delivered.
 */
export async function runScanResults(run: RunContext, slot: Date): Promise<ScanResultsSummary> {
  const { results } = run.config;
  const now = run.clock.now();
  const giveUpMs = durationMs(results.giveUpAfter);
  const everyMs = durationMs(results.checkEvery);
  const durable = await run.store.durable();
  const summary: ScanResultsSummary = {
    trigger: "results",
    scheduledTime: slot.toISOString(),
    source: durable ? "state store" : "task list",
    open: 0,
    told: [],
    waiting: [],
    duplicatesRemoved: [],
    taskListCalls: 0,
    filterReadings: [],
    warnings: [...run.storeWarnings],
    errors: [],
    ok: true,
    retry: true,
  };

  let runs: OpenRun[];
  let states: Map<string, TaskResult>;
  try {
    // The recent tasks, read in both modes: duplicates show only here.
    let listed: Awaited<ReturnType<typeof runsFromTaskList>> = { runs: [], tasks: new Map(), calls: 0, warnings: [] };
    try {
      listed = await runsFromTaskList(run.csip, slot.getTime() - giveUpMs - everyMs, memberScopes(run.config), run.deployment);
    } catch (error) {
      if (!durable) throw error;
      summary.errors.push({ ...errorFacts(error), message: `task list: ${errorFacts(error).message}` });
    }
    summary.taskListCalls = listed.calls;
    summary.warnings.push(...listed.warnings);
    summary.duplicatesRemoved = await removeDuplicateTasks(run.csip, listed.tasks.values(), (name) => run.config.policies.find((p) => p.name === name)?.memberIds);
    summary.warnings.push(...summary.duplicatesRemoved.map(describeRemoval));
    // The run's task is the one kept, even where a removal failed (another look may have made it).
    const keptFor = new Map(summary.duplicatesRemoved.flatMap((d) => [...d.removed, ...d.failed.map((f) => f.taskId)].map((id) => [id, d.kept] as const)));
    if (durable) {
      // The first look of this version also tells the runs the previous version left open (shared/run/legacy-state.ts).
      await legacyAdoptedAt(run);
      runs = await Promise.all((await openRuns(run.store)).map((open) => withKeptTasks(run, open, keptFor)));
      const read = await taskStatesOfRuns(run.csip, runs.map((r) => ({ taskIds: r.taskIds, memberIds: memberIdsOf(run.config, r) })));
      states = read.tasks;
      summary.taskListCalls += read.calls;
      summary.warnings.push(...read.warnings);
    } else {
      runs = listed.runs.map((open) => ({ ...open, taskIds: open.taskIds.filter((id) => !keptFor.has(id)) }));
      states = listed.tasks;
    }
  } catch (error) {
    summary.errors.push(errorFacts(error));
    withReadings(run, summary);
    return { ...summary, ok: false };
  }
  summary.open = runs.length;

  for (const open of runs) {
    const tasks = open.taskIds.map((id) => states.get(id)!).filter(Boolean);
    const ended = tasks.every((t) => t.ended);
    const pastGiveUp = now - open.createdAt >= giveUpMs;
    const gaveUp = !ended && pastGiveUp;
    if (!ended && !gaveUp) {
      summary.waiting.push({ run: open.run, reason: `${tasks.filter((t) => t.ended).length} of ${tasks.length} task(s) ended` });
      continue;
    }
    if (!durable) {
      const at = ended ? Math.max(...tasks.map((t) => t.endedAt ?? open.createdAt)) : open.createdAt + giveUpMs;
      if (!(at > slot.getTime() - everyMs && at <= slot.getTime())) continue;
    }
    const duplicates = summary.duplicatesRemoved.filter((d) => parseTaskName(d.taskName)?.run.recordKey === open.run);
    try {
      const told = await tellRun(run, open, tasks, { gaveUp, pastGiveUp, holdForReports: durable && !pastGiveUp, duplicates });
      if (told === "elsewhere") continue;
      if ("waiting" in told) summary.waiting.push({ run: open.run, reason: told.waiting });
      else summary.told.push(told);
    } catch (error) {
      summary.errors.push({ ...errorFacts(error), message: `${open.run}: ${errorFacts(error).message}` });
    }
  }
  withReadings(run, summary);
  summary.ok = summary.errors.length === 0 && summary.told.every((t) => t.notifications.every((n) => n.delivered));
  const sentNow = summary.told.some((t) => t.notifications.some((n) => n.delivered && n.via !== "sent before"));
  summary.retry = durable || !sentNow;
  if (!summary.ok && !summary.retry) {
    summary.warnings.push("not retried: without a durable state store, a retry would send again the messages this look delivered; the failed deliveries are in this summary");
  }
  run.logger.info({ summary }, `scan results: ${summary.told.length} run(s) told, ${summary.waiting.length} waiting, ${summary.taskListCalls} task list call(s)`);
  return summary;
}

/** The open run with each removed duplicate replaced by the task kept of its name, remembered so. */
async function withKeptTasks(run: RunContext, open: OpenRun, keptFor: ReadonlyMap<string, string>): Promise<OpenRun> {
  if (!open.taskIds.some((id) => keptFor.has(id))) return open;
  const replaced = { ...open, taskIds: [...new Set(open.taskIds.map((id) => keptFor.get(id) ?? id))] };
  await trackRun(run.store, replaced);
  return replaced;
}

/** Adds to a look's summary the filter readings its run showed, and their warnings. */
function withReadings(run: RunContext, summary: ScanResultsSummary): void {
  const readings = runReadings(run, summary.warnings);
  summary.filterReadings = readings.filterReadings;
  summary.warnings.push(...readings.warnings);
}

/**
 * How long a look waits for a run's lock another invocation holds: one lease and a look. A look that was
 * killed holding it keeps it that long at most, so SCF's retry of that look tells the run itself rather
 * than leaving it to the next look, `checkEvery` later; a live holder is done telling by then, or is left to.
 */
const RESULTS_LOCK_WAIT_MS = LEASE_MS + LONGEST_LOOK_INTERVAL_MS;

/**
 * Tells one run's results, under its lock, once: "elsewhere" when another invocation holds the lock past
 * RESULTS_LOCK_WAIT_MS (or told it meanwhile), `waiting` with why when the run stays open for a later look:
 * a finished task's report not ready while the run may still wait for it, or its policy's history held by
 * another invocation. The message is built by the first look that can, stored, and only sent from then on:
 * a notifier that got it is not sent it again, and one that failed gets the very same message later,
 * whatever changed meanwhile.
 */
async function tellRun(
  run: RunContext,
  open: OpenRun,
  tasks: TaskResult[],
  how: { gaveUp: boolean; pastGiveUp: boolean; holdForReports: boolean; duplicates: DuplicateRemoval[] },
): Promise<ToldRun | { waiting: string } | "elsewhere"> {
  const key = resultsKey(open.run);
  /** Whether this look holds the run's lock: a LockBusyError after that is another lock's (the history's). */
  let holding = false;
  try {
    return await run.store.withLock(key, { waitMs: Math.min(RESULTS_LOCK_WAIT_MS, run.deadline.remainingMs()) }, async () => {
      holding = true;
      const record: Told = (await run.store.get(key, ToldSchema)) ?? { told: false, notified: {} };
      const base = { run: open.run, policy: open.policy, scheduledTime: open.scheduledTime, riskCount: tasks.reduce((n, t) => n + t.riskCount, 0), notifications: [] };
      const finish = async (told: ToldRun): Promise<ToldRun> => {
        await run.store.set(key, { ...record, told: true });
        await closeRun(run.store, open.run);
        return told;
      };
      if (record.told) {
        await closeRun(run.store, open.run);
        return "elsewhere";
      }
      const policy = run.config.policies.find((p) => p.name === open.policy);
      if (!policy) return finish({ ...base, status: "policy no longer in the file" });
      if (!policy.notifyOn.includes("results")) return finish({ ...base, status: "not asked for (notifyOn)" });

      if (!record.message) {
        const built = await buildResults(run, policy, open, tasks, how);
        if (built === "held") return { waiting: "a finished task's report is not ready yet" };
        // Stored before the first send: every notifier and every later look sends these bytes, this ID.
        // The policy's results page (shared/run/results-page.ts): the history gains this run, the message links the page.
        const page = await publishResultsPage(run, built.results, built.findings);
        record.message = { id: messageId(open.run, "results"), report: JSON.stringify(resultsReport(built.results, page)) };
        await run.store.set(key, record);
        // Only a run whose every task ended done, with its findings known, is the next comparison's baseline.
        if (built.baseline) await rememberResults(run.store, policy.name, open.scheduledTime, built.results.riskCount, built.findings);
      }
      const { id } = record.message;
      const report = JSON.parse(record.message.report) as ResultsReport;
      const notifications: DeliveryResult[] = [];
      for (const name of policy.notify) {
        if (record.notified[name]) {
          notifications.push({ notifier: name, delivered: true, via: "sent before" });
          continue;
        }
        record.partsSent ??= {};
        const result = await run.deliver(name, run.config.notifiers[name]!, report, id, partsProgress(record.partsSent, name, () => run.store.set(key, record), () => run.store.assertMayAct()));
        notifications.push(result);
        if (!result.delivered) continue;
        record.notified[name] = id;
        delete record.partsSent[name];
        await run.store.set(key, record);
      }
      const told: ToldRun = { ...base, riskCount: report.riskCount, status: report.status, notifications, ...(report.page ? { page: linkShown(report.page) } : {}) };
      // A failed delivery leaves the run open: the next look sends the stored message to that notifier alone.
      if (!notifications.every((n) => n.delivered)) return told;
      return finish(told);
    });
  } catch (error) {
    if (!(error instanceof LockBusyError)) throw error;
    // The run's own lock: another invocation is telling it. Another lock under it (the policy's
    // history, which a look that crashed holds for up to a lease): the run stays open for the next look.
    return holding ? { waiting: `${describeError(error)}; the next look tells it` } : "elsewhere";
  }
}

/** Every task ended done (none failed, gone, or still running). */
const allDone = (tasks: readonly TaskResult[]): boolean => tasks.every((t) => t.state === "done");

function scopeOf(tasks: readonly TaskResult[]): TaskResult["scope"] {
  return {
    assets: [...new Set(tasks.flatMap((t) => t.scope.assets))],
    typedIn: [...new Set(tasks.flatMap((t) => t.scope.typedIn))],
    everything: tasks.some((t) => t.scope.everything),
  };
}

/**
 * A lookup of the results: its answer, or, once `results.giveUpAfter` has passed, what is missing. Before
 * then a failure is thrown, and the next look tries again; after it, the message goes without that part.
 */
async function lookUp<T>(part: MissingPart["part"], pastGiveUp: boolean, missing: MissingPart[], fallback: T, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!pastGiveUp) throw error;
    missing.push({ part, reason: errorFacts(error).message });
    return fallback;
  }
}

/** The run's results with report links, or "held" while a finished task's report may still come. */
async function buildResults(
  run: RunContext,
  policy: Policy,
  open: OpenRun,
  tasks: TaskResult[],
  how: { gaveUp: boolean; pastGiveUp: boolean; holdForReports: boolean; duplicates: DuplicateRemoval[] },
): Promise<{ results: RunResults; findings: Finding[]; baseline: boolean } | "held"> {
  const missing: MissingPart[] = [];
  const done = tasks.filter((t) => t.state === "done").map((t) => t.taskId);
  const links = await lookUp("report links", how.pastGiveUp, missing, new Map<string, string>(), async () => (await reportLinks(run.csip, done, memberIdsOf(run.config, open))).links);
  const unlinked = done.filter((id) => !links.has(id));
  if (how.holdForReports && unlinked.length > 0) return "held";
  if (unlinked.length > 0 && missing.length === 0) missing.push({ part: "report links", reason: `no report yet for ${unlinked.join(", ")}` });
  const withLinks = tasks.map((t) => (links.has(t.taskId) ? { ...t, reportUrl: links.get(t.taskId)! } : t));
  const built = await resultsOf(run, policy, open, withLinks, how.gaveUp, { pastGiveUp: how.pastGiveUp, missing, duplicates: how.duplicates });
  return { ...built, baseline: open.trigger !== "asset-change" && allDone(tasks) && !missing.some((m) => m.part === "findings") };
}

/**
 * A run's results: its tasks, the current findings on the assets they scanned, the change since the
 * last run (only for a run whose every task ended done: a failed, gone or unfinished task scanned
 * nothing to compare); and every finding, for the next run's comparison.
 */
export async function resultsOf(
  run: RunContext,
  policy: Policy,
  open: OpenRun,
  tasks: TaskResult[],
  gaveUp: boolean,
  extra: { pastGiveUp?: boolean; missing?: MissingPart[]; duplicates?: DuplicateRemoval[] } = {},
): Promise<{ results: RunResults; findings: Finding[] }> {
  const missing = extra.missing ?? [];
  const riskCount = tasks.reduce((n, t) => n + t.riskCount, 0);
  const lookedUp = await lookUp("findings", extra.pastGiveUp ?? false, missing, undefined, () => currentFindings(run.csip, scopeOf(tasks), memberIdsOf(run.config, open)));
  const findings = lookedUp?.findings ?? [];
  const total = lookedUp?.total ?? 0;
  const capped = lookedUp?.capped;
  const comparable = lookedUp !== undefined && allDone(tasks) && open.trigger !== "asset-change" && (await run.store.durable());
  const comparison = comparable ? await compareWithPrevious(run.store, policy.name, riskCount, findings) : NO_COMPARISON;
  const results: RunResults = {
    policy: policy.name,
    trigger: open.trigger,
    scheduledTime: open.scheduledTime,
    run: open.run,
    tasks,
    ended: tasks.every((t) => t.ended),
    gaveUp,
    riskCount,
    allClear: allDone(tasks) && riskCount === 0,
    findings: findings.slice(0, run.config.results.topFindings),
    findingsTotal: total,
    ...(capped ? { findingsCapped: capped } : {}),
    comparison,
    missing,
    duplicatesRemoved: extra.duplicates ?? [],
  };
  return { results, findings };
}
