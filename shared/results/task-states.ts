import { ASSET_KINDS, kindOfTaskAsset } from "../assets/kinds.ts";
import { memberParam, type CsipClient, type Models } from "../csip/client.ts";
import { ignoredFilterWarning, readFiltered } from "../csip/pager.ts";
import { TASK_STATES } from "../scan/task-status.ts";
import type { TaskResult } from "./model.ts";

/** TaskIds asked for in one DescribeScanTaskList call: one page holds 100 tasks (the inventory's assumption). */
export const TASKS_PER_CALL = 100;

/** CSIP's times are UTC+8 text: `2026-11-29 11:18:09`. */
export function csipTimeMs(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  return Date.parse(`${text.replace(" ", "T")}+08:00`);
}

/** A listed task in words. */
export function taskResult(task: Models.ScanTaskInfoList): TaskResult {
  const known = TASK_STATES[task.ScanStatus as keyof typeof TASK_STATES];
  const started = csipTimeMs(task.StartTime);
  const ended = csipTimeMs(task.EndTime);
  // Each asset is read from the risk lists by the field its kind's rows name it by.
  const assets: string[] = [];
  const typedIn = [...(task.SelfDefiningAssets ?? [])];
  for (const a of task.Assets ?? []) {
    if (typeof a.Asset !== "string" || a.Asset === "") continue;
    const kind = kindOfTaskAsset(a.AssetType);
    (kind && ASSET_KINDS[kind].findingsBy === "AffectAsset" ? typedIn : assets).push(a.Asset);
  }
  return {
    taskId: task.TaskId ?? "",
    taskName: task.TaskName ?? "",
    state: known?.state ?? "waiting",
    ended: known?.ended ?? false,
    assets: task.AssetNumber ?? assets.length + typedIn.length,
    assetsScanned: task.CompleteAssetNumber ?? 0,
    riskCount: task.RiskCount ?? 0,
    ...(known?.ended && started !== undefined && ended !== undefined && ended >= started ? { durationSeconds: Math.round((ended - started) / 1000) } : {}),
    ...(known?.ended && ended !== undefined ? { endedAt: ended } : {}),
    ...(csipTimeMs(task.InsertTime) !== undefined ? { insertedAt: csipTimeMs(task.InsertTime)! } : {}),
    ...(task.AppId ? { appId: String(task.AppId) } : {}),
    ...(task.ScanStatus === 3 && task.ErrorInfo ? { error: task.ErrorInfo } : {}),
    // ScanAssetType 0 and 2 scan every asset (but the excepted ones): their findings are the whole estate's.
    scope: { assets, typedIn, everything: task.ScanAssetType === 0 || task.ScanAssetType === 2 },
  };
}

/** What reading task states found, and what it cost. */
export interface TaskStates {
  tasks: Map<string, TaskResult>;
  calls: number;
  /** One per action whose filter the server ignored. */
  warnings: string[];
}

/** How a run's tasks are read back: DescribeScanTaskList by TaskId, exact (the Terraform provider's filter; undocumented). */
export const TASK_ID_FILTER = { action: "DescribeScanTaskList", field: "TaskId", operator: 7 } as const;

/**
 * The state of these tasks, in as few DescribeScanTaskList calls as their number allows: up to 100
 * TaskIds a call (Filter `TaskId`, exact: the filter the Terraform provider uses; undocumented), each
 * read to its end. A member's tasks are listed only to calls naming its MemberId (the official example
 * passes it). When the answer holds tasks the filter excludes, the server ignored it: the whole list was
 * read and the tasks are matched here. A task CSIP does not list any more is "not found".
 */
export async function taskStates(csip: CsipClient, taskIds: readonly string[], memberIds?: readonly string[]): Promise<TaskStates> {
  const tasks = new Map<string, TaskResult>();
  const wanted = [...new Set(taskIds)];
  const read = await readFiltered({
    csip,
    action: TASK_ID_FILTER.action,
    request: { ...memberParam(memberIds) },
    field: TASK_ID_FILTER.field,
    values: wanted,
    batch: TASKS_PER_CALL,
  });
  for (const task of read.rows as Models.ScanTaskInfoList[]) if (task.TaskId) tasks.set(task.TaskId, taskResult(task));
  for (const id of wanted) {
    // Deleted, or never listed: it will not change any more.
    if (!tasks.has(id)) tasks.set(id, { taskId: id, taskName: "", state: "not found", ended: true, assets: 0, assetsScanned: 0, riskCount: 0, scope: { assets: [], typedIn: [], everything: false } });
  }
  return { tasks, calls: read.calls, warnings: read.ignored ? [ignoredFilterWarning("DescribeScanTaskList", read.ignored)] : [] };
}

/** The tasks of several runs, each read in the member scope of its policy; one warning per action. */
export async function taskStatesOfRuns(csip: CsipClient, runs: readonly { taskIds: readonly string[]; memberIds?: readonly string[] | undefined }[]): Promise<TaskStates> {
  const scopes = new Map<string, { memberIds: readonly string[] | undefined; taskIds: string[] }>();
  for (const run of runs) {
    const key = [...(run.memberIds ?? [])].sort().join(",");
    const scope = scopes.get(key) ?? { memberIds: run.memberIds, taskIds: [] };
    scope.taskIds.push(...run.taskIds);
    scopes.set(key, scope);
  }
  const all: TaskStates = { tasks: new Map(), calls: 0, warnings: [] };
  for (const { memberIds, taskIds } of scopes.values()) {
    const read = await taskStates(csip, taskIds, memberIds);
    for (const [id, task] of read.tasks) all.tasks.set(id, task);
    all.calls += read.calls;
    for (const w of read.warnings) if (!all.warnings.includes(w)) all.warnings.push(w);
  }
  return all;
}
