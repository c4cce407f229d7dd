import type { CsipClient, Models } from "../csip/client.ts";
import { TASK_STATES, type TaskResult } from "./model.ts";

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
  const assets = (task.Assets ?? []).map((a) => a.Asset).filter((a): a is string => typeof a === "string" && a !== "");
  const typedIn = task.SelfDefiningAssets ?? [];
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
    ...(task.ScanStatus === 3 && task.ErrorInfo ? { error: task.ErrorInfo } : {}),
    // ScanAssetType 0 and 2 scan every asset (but the excepted ones): their findings are the whole estate's.
    scope: { assets, typedIn, everything: task.ScanAssetType === 0 || task.ScanAssetType === 2 },
  };
}

/**
 * The state of these tasks, in as few DescribeScanTaskList calls as their number allows: up to 100
 * TaskIds a call (Filter `TaskId`, exact: the filter the Terraform provider uses; undocumented, so the
 * answer is matched by TaskId here whatever the server returns). A task CSIP does not list any more is
 * "not found".
 */
export async function taskStates(csip: CsipClient, taskIds: readonly string[]): Promise<{ tasks: Map<string, TaskResult>; calls: number }> {
  const tasks = new Map<string, TaskResult>();
  const wanted = [...new Set(taskIds)];
  let calls = 0;
  for (let i = 0; i < wanted.length; i += TASKS_PER_CALL) {
    const batch = wanted.slice(i, i + TASKS_PER_CALL);
    calls++;
    const answer = await csip.call("DescribeScanTaskList", {
      Filter: { Limit: TASKS_PER_CALL, Offset: 0, Filters: [{ Name: "TaskId", Values: batch, OperatorType: 7 }] },
    });
    for (const task of answer.Data ?? []) if (task.TaskId && batch.includes(task.TaskId)) tasks.set(task.TaskId, taskResult(task));
  }
  for (const id of wanted) {
    // Deleted, or never listed: it will not change any more.
    if (!tasks.has(id)) tasks.set(id, { taskId: id, taskName: "", state: "not found", ended: true, assets: 0, assetsScanned: 0, riskCount: 0, scope: { assets: [], typedIn: [], everything: false } });
  }
  return { tasks, calls };
}
