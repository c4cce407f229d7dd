import { createHash } from "node:crypto";
import * as z from "zod";
import { durationMs, type Policy } from "../config/schema.ts";
import { errorFacts, LockBusyError } from "../errors.ts";
import type { DeliveryResult } from "../notify/deliver.ts";
import type { RunError } from "../notify/report.ts";
import { resultsReport, type ResultsReport } from "../notify/results-report.ts";
import { compareWithPrevious, rememberResults } from "../results/compare.ts";
import { currentFindings } from "../results/findings.ts";
import type { Finding, RunResults, TaskResult } from "../results/model.ts";
import { closeRun, memberIdsOf, memberScopes, openRuns, runsFromTaskList, type OpenRun } from "../results/open-runs.ts";
import { reportLinks } from "../results/reports.ts";
import { taskStatesOfRuns } from "../results/task-states.ts";
import { resultsKey } from "../state/keys.ts";
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
  /** DescribeScanTaskList calls made to read the tasks' states. */
  taskListCalls: number;
  warnings: string[];
  errors: RunError[];
  ok: boolean;
}

/** Whether a run's results were told, and to whom: each notifier is sent its message once. */
const ToldSchema = z.object({ told: z.boolean(), notified: z.record(z.string(), z.string()) });

/**
 * Follows csip-scan's tasks to their end and tells people what they found: one results message per
 * policy run, when every task of the run has ended, or when `results.giveUpAfter` has passed (then
 * with what is known and what still runs).
 *
 * With a durable state store the runs are the ones the policy runs remembered, their tasks read by
 * TaskId, 100 a call, and each run is told once under a lock, whatever the number of invocations.
 * Without one (each SCF instance remembers only in memory), the runs are read from CSIP's task list by
 * their names, and a run is told by the invocation whose slot its end falls in: the window
 * (slot - checkEvery, slot], so that invocations one `checkEvery` apart each tell a run once.
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
    taskListCalls: 0,
    warnings: [],
    errors: [],
    ok: true,
  };

  let runs: OpenRun[];
  let states: Map<string, TaskResult>;
  try {
    if (durable) {
      runs = await openRuns(run.store);
      const read = await taskStatesOfRuns(run.csip, runs.map((r) => ({ taskIds: r.taskIds, memberIds: memberIdsOf(run.config, r.policy) })));
      states = read.tasks;
      summary.taskListCalls = read.calls;
      summary.warnings.push(...read.warnings);
    } else {
      const read = await runsFromTaskList(run.csip, slot.getTime() - giveUpMs - everyMs, memberScopes(run.config));
      runs = read.runs;
      states = read.tasks;
      summary.taskListCalls = read.calls;
      summary.warnings.push(...read.warnings);
    }
  } catch (error) {
    summary.errors.push(errorFacts(error));
    return { ...summary, ok: false };
  }
  summary.open = runs.length;

  for (const open of runs) {
    const tasks = open.taskIds.map((id) => states.get(id)!).filter(Boolean);
    const ended = tasks.every((t) => t.ended);
    const gaveUp = !ended && now - open.createdAt >= giveUpMs;
    if (!ended && !gaveUp) {
      summary.waiting.push({ run: open.run, reason: `${tasks.filter((t) => t.ended).length} of ${tasks.length} task(s) ended` });
      continue;
    }
    if (!durable) {
      const at = ended ? Math.max(...tasks.map((t) => t.endedAt ?? open.createdAt)) : open.createdAt + giveUpMs;
      if (!(at > slot.getTime() - everyMs && at <= slot.getTime())) continue;
    }
    try {
      const told = await tellRun(run, open, tasks, { gaveUp, holdForReports: durable && !gaveUp });
      if (told === "held") summary.waiting.push({ run: open.run, reason: "a finished task's report is not ready yet" });
      else if (told !== "elsewhere") summary.told.push(told);
    } catch (error) {
      summary.errors.push({ ...errorFacts(error), message: `${open.run}: ${errorFacts(error).message}` });
    }
  }
  summary.ok = summary.errors.length === 0 && summary.told.every((t) => t.notifications.every((n) => n.delivered));
  run.logger.info({ summary }, `scan results: ${summary.told.length} run(s) told, ${summary.waiting.length} waiting, ${summary.taskListCalls} task list call(s)`);
  return summary;
}

/**
 * Tells one run's results, under its lock, once: "elsewhere" when another invocation holds the lock,
 * "held" when a finished task's report is not ready and the run may still wait for it.
 */
async function tellRun(
  run: RunContext,
  open: OpenRun,
  tasks: TaskResult[],
  { gaveUp, holdForReports }: { gaveUp: boolean; holdForReports: boolean },
): Promise<ToldRun | "held" | "elsewhere"> {
  const key = resultsKey(open.run);
  try {
    return await run.store.withLock(key, { ttlMs: run.deadline.remainingMs() + 60_000, waitMs: 0 }, async () => {
      const record = (await run.store.get(key, ToldSchema)) ?? { told: false, notified: {} };
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

      const { links } = await reportLinks(run.csip, tasks.filter((t) => t.state === "done").map((t) => t.taskId), policy.memberIds);
      if (holdForReports && tasks.some((t) => t.state === "done" && !links.has(t.taskId))) return "held";
      const { results, findings } = await resultsOf(run, policy, open, tasks.map((t) => (links.has(t.taskId) ? { ...t, reportUrl: links.get(t.taskId)! } : t)), gaveUp);
      const report = resultsReport(results);
      const notifications: DeliveryResult[] = [];
      const hash = createHash("sha256").update(JSON.stringify(report)).digest("hex");
      for (const name of policy.notify) {
        if (record.notified[name] === hash) {
          notifications.push({ notifier: name, delivered: true, via: "sent before" });
          continue;
        }
        const result = await run.deliver(name, run.config.notifiers[name]!, report);
        notifications.push(result);
        if (result.delivered) record.notified[name] = hash;
      }
      const told: ToldRun = { ...base, riskCount: results.riskCount, status: report.status, notifications };
      if (!notifications.every((n) => n.delivered)) {
        // Tried again by the next invocation; the notifiers already told are not told twice.
        await run.store.set(key, record);
        return told;
      }
      // Only a run whose every task ended done is the baseline for the next comparison.
      if (open.trigger !== "asset-change" && allDone(results.tasks)) await rememberResults(run.store, policy.name, open.scheduledTime, results.riskCount, findings);
      return finish(told);
    });
  } catch (error) {
    if (error instanceof LockBusyError) return "elsewhere";
    throw error;
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
 * A run's results: its tasks, the current findings on the assets they scanned, the change since the
 * last run; and every finding, for the next run's comparison.
 */
export async function resultsOf(run: RunContext, policy: Policy, open: OpenRun, tasks: TaskResult[], gaveUp: boolean): Promise<{ results: RunResults; findings: Finding[] }> {
  const riskCount = tasks.reduce((n, t) => n + t.riskCount, 0);
  const { findings, total, capped } = await currentFindings(run.csip, scopeOf(tasks), policy.memberIds);
  const ended = tasks.every((t) => t.ended);
  const compared =
    open.trigger !== "asset-change" && (await run.store.durable())
      ? await compareWithPrevious(run.store, policy.name, riskCount, findings)
      : { previous: undefined, riskCountChange: undefined, newFindings: [], goneFindings: [] };
  // A failed or unfinished task counts no risks: its 0 is not a change in risk.
  const comparison = allDone(tasks) ? compared : { ...compared, riskCountChange: undefined };
  const results: RunResults = {
    policy: policy.name,
    trigger: open.trigger,
    scheduledTime: open.scheduledTime,
    run: open.run,
    tasks,
    ended,
    gaveUp,
    riskCount,
    allClear: allDone(tasks) && riskCount === 0,
    findings: findings.slice(0, run.config.results.topFindings),
    findingsTotal: total,
    ...(capped ? { findingsCapped: capped } : {}),
    comparison,
  };
  return { results, findings };
}
