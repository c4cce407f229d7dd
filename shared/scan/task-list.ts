import { memberParam, type CsipClient, type Models } from "../csip/client.ts";
import { readFiltered } from "../csip/pager.ts";
import { CloudApiError, describeError, LeaseLostError } from "../errors.ts";
import { TASK_STATES } from "./task-status.ts";

export type ListedTask = Models.ScanTaskInfoList;

/**
 * How csip-scan finds its own tasks in CSIP's task list: by TaskName, "contains" (OperatorType 9), the
 * deployment's prefix or a run's. Undocumented (local/emulator/ASSUMPTIONS.md); `csip-scan doctor` asks
 * the account how it takes it.
 */
export const TASK_NAME_FILTER = { action: "DescribeScanTaskList", field: "TaskName", operator: 9 } as const;

/**
 * The tasks CSIP holds whose names contain `fragment` (a run's task prefix, or one name), grouped by
 * exact name, oldest first. CSIP has no idempotency token, so the deterministic TaskName is how a
 * retried invocation recognises its own tasks, and more than one task under a name is a duplicate.
 * The filter field `TaskName` and "contains" (OperatorType 9) are undocumented
 * (local/emulator/ASSUMPTIONS.md): the list is read to its end and the names are checked here, so a
 * server that ignores the filter costs pages, not a missed task. A member's tasks are listed only to
 * calls naming its MemberId.
 */
export async function tasksByName(csip: CsipClient, fragment: string, memberIds?: readonly string[]): Promise<Map<string, ListedTask[]>> {
  const found = new Map<string, ListedTask[]>();
  const read = await readFiltered({
    csip,
    action: TASK_NAME_FILTER.action,
    request: { ...memberParam(memberIds) },
    field: TASK_NAME_FILTER.field,
    values: [fragment],
    operator: TASK_NAME_FILTER.operator,
  });
  for (const task of read.rows as ListedTask[]) {
    if (!task.TaskId || !task.TaskName) continue;
    const same = found.get(task.TaskName) ?? [];
    if (!same.some((t) => t.TaskId === task.TaskId)) same.push(task);
    found.set(task.TaskName, same);
  }
  for (const tasks of found.values()) tasks.sort(oldestFirst);
  return found;
}

/**
 * Which of two tasks of one name is older, by when CSIP inserted it: a task without that time comes
 * last (its age is unknown, and keeping a task of known age is the safe choice); equal times by the
 * smaller TaskId, so every look makes the same choice. The one rule of the run's creation and of the
 * results look (shared/results/duplicates.ts), so that both keep the same task.
 */
export function olderFirst(a: { at: number | string | undefined; taskId: string }, b: { at: number | string | undefined; taskId: string }): number {
  if (a.at !== b.at) {
    if (a.at === undefined) return 1;
    if (b.at === undefined) return -1;
    return a.at < b.at ? -1 : 1;
  }
  return a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0;
}

/** CSIP's InsertTime (`2026-11-29 11:00:00`, UTC+8) orders as text; an empty one is no time. */
function oldestFirst(a: ListedTask, b: ListedTask): number {
  return olderFirst({ at: a.InsertTime || undefined, taskId: a.TaskId ?? "" }, { at: b.InsertTime || undefined, taskId: b.TaskId ?? "" });
}

/** What removing the duplicates of one task name did. */
export interface Deduplication {
  kept: ListedTask;
  /** TaskIds stopped and deleted. */
  removed: string[];
  /** TaskIds that could not be removed, with why. */
  failed: { taskId: string; message: string }[];
}

/**
 * Keeps the oldest task of a name and stops and deletes the others: two tasks of one name are one scan
 * run twice. `memberIds`: the policy's member accounts, passed as `MemberId` as the official examples do.
 */
export async function keepOldest(csip: CsipClient, tasks: readonly ListedTask[], memberIds?: readonly string[]): Promise<Deduplication> {
  const [kept, ...others] = [...tasks].sort(oldestFirst);
  const { removed, failed } = await removeTasks(
    csip,
    others.map((t) => ({ taskId: t.TaskId!, ended: TASK_STATES[t.ScanStatus as keyof typeof TASK_STATES]?.ended ?? false, ...(t.AppId ? { appId: t.AppId } : {}) })),
    memberIds,
  );
  return { kept: kept!, removed, failed };
}

/**
 * Stops each task (`StopRiskCenterTask`), then deletes it (`DeleteRiskScanTask`). Both calls name the
 * policy's MemberId, and the delete names the task's AppId as TargetAppId, as the DeleteRiskScanTask
 * example does. A stop that answers a Status other than 0 ("停止成功" is 0) did not stop a running task:
 * it is not deleted, and the failure says so. Whether CSIP lets an ended task be stopped is
 * undocumented: for one, a refused stop does not keep it from being deleted. One failing does not stop
 * the others.
 */
export async function removeTasks(
  csip: CsipClient,
  tasks: readonly { taskId: string; ended: boolean; appId?: string }[],
  memberIds?: readonly string[],
): Promise<{ removed: string[]; failed: { taskId: string; message: string }[] }> {
  const result: { removed: string[]; failed: { taskId: string; message: string }[] } = { removed: [], failed: [] };
  for (const task of tasks) {
    try {
      await stopTask(csip, task.taskId, memberIds).catch((error: unknown) => {
        if (!task.ended || error instanceof LeaseLostError) throw error;
      });
      await csip.call("DeleteRiskScanTask", { ...memberParam(memberIds), TaskIdList: [{ TaskId: task.taskId, ...(task.appId ? { TargetAppId: task.appId } : {}) }] });
      result.removed.push(task.taskId);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      result.failed.push({ taskId: task.taskId, message: describeError(error) });
    }
  }
  return result;
}

/** `StopRiskCenterTask`, whose answer's Status says whether the task stopped (0) or not. */
async function stopTask(csip: CsipClient, taskId: string, memberIds?: readonly string[]): Promise<void> {
  const stopped = await csip.call("StopRiskCenterTask", { ...memberParam(memberIds), TaskIdList: [{ TaskId: taskId }] });
  if (stopped.Status !== undefined && stopped.Status !== 0) {
    throw new CloudApiError({
      action: "StopRiskCenterTask",
      code: `Status${stopped.Status}`,
      message: `CSIP did not stop the task (Status ${stopped.Status})`,
      requestId: stopped.RequestId,
      retryable: false,
    });
  }
}

/** Tasks of one name beyond the first: one scan made twice by a create that landed late. */
export interface DuplicateRemoval {
  taskName: string;
  /** The oldest task of the name, kept. */
  kept: string;
  /** TaskIds stopped and deleted. */
  removed: string[];
  /** TaskIds that could not be removed, with why. */
  failed: { taskId: string; message: string }[];
}

/** A removal as the summary's warning says it. */
export function describeRemoval(d: DuplicateRemoval): string {
  let text = `CSIP held ${d.removed.length + d.failed.length + 1} tasks named "${d.taskName}" (a create that landed late); kept the oldest, ${d.kept}`;
  if (d.removed.length > 0) text += `, stopped and deleted ${d.removed.join(", ")}`;
  for (const f of d.failed) text += `; could not remove ${f.taskId}: ${f.message}`;
  return text;
}
