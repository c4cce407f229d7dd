import * as z from "zod";
import { historyKey } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import { bySeverity } from "./findings.ts";
import { LEVELS, statusOf, type Finding, type Level, type RunResults } from "./model.ts";

/**
 * The last runs of each policy, for its results page: one state value per policy, bounded. Every run
 * keeps its counts (a point of the trend); only the newest keeps its findings, tasks and what changed,
 * because the page shows those of the last run alone. Asset-change runs scan a few assets: they are kept
 * apart (`changes`, `latestChange`), so they neither make a dip in the trend nor replace the last
 * scheduled run's findings.
 */

/** Findings of the newest run kept, most severe first: enough for the page's table, small enough for one state value. */
export const FINDINGS_KEPT = 1000;

/** New and gone findings listed (their counts are whole). */
export const CHANGES_KEPT = 100;

/** Findings of the newest asset-change run kept: a few assets' worth. */
export const CHANGE_FINDINGS_KEPT = 100;

const LEVEL_NAMES = [...LEVELS, "unknown"] as const;
const LevelSchema = z.enum(LEVEL_NAMES);

const FindingSchema = z.object({
  id: z.string(),
  kind: z.string(),
  asset: z.string(),
  assetName: z.string().optional(),
  level: LevelSchema,
  name: z.string(),
  cve: z.string().optional(),
  fix: z.string().optional(),
  /** The earlier of CSIP's FirstTime and the first run of this history that had it; ms since the epoch. */
  firstSeen: z.number().optional(),
});
export type HistoryFinding = z.infer<typeof FindingSchema>;

/** One run as a point of the trend. */
const RunEntrySchema = z.object({
  run: z.string(),
  scheduledTime: z.string(),
  status: z.enum(["all clear", "risks found", "failed", "incomplete"]),
  /** Asset-change runs; absent for scheduled and manual ones (and in histories written before it was added). */
  trigger: z.literal("asset-change").optional(),
  /** What the tasks counted (CSIP's RiskCount): a task that did not finish counts none. */
  riskCount: z.number(),
  /** The current findings on the scanned assets, by severity. */
  byLevel: z.partialRecord(LevelSchema, z.number()),
  findingsTotal: z.number(),
  tasks: z.number(),
  /** Assets the tasks scanned (written since asset-change runs were kept). */
  assetsScanned: z.number().optional(),
  /** Null when the run was not compared (no earlier run known). */
  newCount: z.number().nullable(),
  goneCount: z.number().nullable(),
});
export type RunEntry = z.infer<typeof RunEntrySchema>;

const TaskSchema = z.object({
  taskId: z.string(),
  state: z.string(),
  assets: z.number(),
  assetsScanned: z.number(),
  riskCount: z.number(),
  durationSeconds: z.number().optional(),
  error: z.string().optional(),
  reportUrl: z.string().optional(),
});

export const PolicyHistorySchema = z.object({
  policy: z.string(),
  /** Oldest first. */
  runs: z.array(RunEntrySchema),
  /** The newest run in detail. */
  latest: z
    .object({
      run: z.string(),
      tasks: z.array(TaskSchema),
      findings: z.array(FindingSchema),
      newFindings: z.array(FindingSchema),
      goneFindings: z.array(FindingSchema.pick({ id: true, asset: true, level: true, name: true })),
    })
    .nullable(),
  /** The last asset-change runs, oldest first (absent in histories written before they were kept). */
  changes: z.array(RunEntrySchema).optional(),
  /** The newest asset-change run in detail: its tasks and the current findings of the assets it scanned. */
  latestChange: z.object({ run: z.string(), tasks: z.array(TaskSchema), findings: z.array(FindingSchema) }).nullable().optional(),
});
export type PolicyHistory = z.infer<typeof PolicyHistorySchema>;

const kept = (f: Finding, firstSeen: number | undefined): HistoryFinding => ({
  id: f.id,
  kind: f.kind,
  asset: f.asset,
  ...(f.assetName ? { assetName: f.assetName } : {}),
  level: f.level,
  name: f.name,
  ...(f.cve ? { cve: f.cve } : {}),
  ...(f.fix ? { fix: f.fix } : {}),
  ...(firstSeen !== undefined ? { firstSeen } : {}),
});

/** A policy's history as stored; empty when there is none yet. */
export async function readHistory(store: StateStore, policy: string): Promise<PolicyHistory> {
  return (await store.get(historyKey(policy), PolicyHistorySchema)) ?? { policy, runs: [], latest: null };
}

const taskEntry = (t: RunResults["tasks"][number]): z.infer<typeof TaskSchema> => ({
  taskId: t.taskId,
  state: t.state,
  assets: t.assets,
  assetsScanned: t.assetsScanned,
  riskCount: t.riskCount,
  ...(t.durationSeconds !== undefined ? { durationSeconds: t.durationSeconds } : {}),
  ...(t.error ? { error: t.error } : {}),
  ...(t.reportUrl ? { reportUrl: t.reportUrl } : {}),
});

/** `entry` in `entries` in time order, replacing one of the same run (a retried look), the last `limit` kept. */
const placed = (entries: readonly RunEntry[], entry: RunEntry, limit: number): RunEntry[] =>
  [...entries.filter((r) => r.run !== entry.run), entry].sort((a, b) => a.scheduledTime.localeCompare(b.scheduledTime)).slice(-limit);

/** The history with `results` in it: its entry replaced if told before (a retried look), then the last `limit` runs. */
export function withRun(history: PolicyHistory, results: RunResults, findings: readonly Finding[], limit: number): PolicyHistory {
  const byLevel: Partial<Record<Level, number>> = {};
  for (const f of findings) byLevel[f.level] = (byLevel[f.level] ?? 0) + 1;
  const compared = results.comparison.previous !== undefined;
  const entry: RunEntry = {
    run: results.run,
    scheduledTime: results.scheduledTime,
    ...(results.trigger === "asset-change" ? { trigger: "asset-change" as const } : {}),
    status: statusOf(results),
    riskCount: results.riskCount,
    byLevel,
    findingsTotal: findings.length,
    tasks: results.tasks.length,
    assetsScanned: results.tasks.reduce((n, t) => n + t.assetsScanned, 0),
    newCount: compared ? results.comparison.newFindings.length : null,
    goneCount: compared ? results.comparison.goneFindings.length : null,
  };
  if (results.trigger === "asset-change") {
    const changes = placed(history.changes ?? [], entry, limit);
    if (changes.at(-1)?.run !== results.run) return { ...history, changes };
    const latestChange = { run: results.run, tasks: results.tasks.map(taskEntry), findings: [...findings].sort(bySeverity).slice(0, CHANGE_FINDINGS_KEPT).map((f) => kept(f, f.firstSeen)) };
    return { ...history, changes, latestChange };
  }
  const runs = placed(history.runs, entry, limit);
  if (runs.at(-1)?.run !== results.run) return { ...history, runs };
  // The newest run: its findings carry the first time they were seen, from CSIP or from this history.
  // A finding the last run did not keep is new, unless the last run had more than it kept.
  const before = new Map((history.latest?.findings ?? []).map((f) => [f.id, f.firstSeen]));
  const lastKeptAll = (history.runs.find((r) => r.run === history.latest?.run)?.findingsTotal ?? 0) <= FINDINGS_KEPT;
  const thisRun = Date.parse(results.scheduledTime);
  const firstSeen = (f: Finding): number | undefined => {
    const ours = before.has(f.id) ? before.get(f.id) : lastKeptAll ? thisRun : undefined;
    // The earlier of CSIP's first time and this history's: a risk CSIP found again after a fix keeps the time it was first here.
    return f.firstSeen === undefined ? ours : ours === undefined ? f.firstSeen : Math.min(f.firstSeen, ours);
  };
  return {
    ...history,
    runs,
    latest: {
      run: results.run,
      tasks: results.tasks.map(taskEntry),
      findings: [...findings].sort(bySeverity).slice(0, FINDINGS_KEPT).map((f) => kept(f, firstSeen(f))),
      newFindings: results.comparison.newFindings.slice(0, CHANGES_KEPT).map((f) => kept(f, firstSeen(f))),
      goneFindings: results.comparison.goneFindings.slice(0, CHANGES_KEPT).map((f) => ({ id: f.id, asset: f.asset, level: f.level, name: f.name })),
    },
  };
}

/**
 * Adds a told run to its policy's history and returns the history. Read and written under the
 * history's own lock, so two runs of one policy told at once both stay.
 */
export async function recordRun(store: StateStore, results: RunResults, findings: readonly Finding[], limit: number): Promise<PolicyHistory> {
  return store.withLock(historyKey(results.policy), { waitMs: 10_000 }, async () => {
    const history = withRun(await readHistory(store, results.policy), results, findings, limit);
    await store.set(historyKey(results.policy), history);
    return history;
  });
}
