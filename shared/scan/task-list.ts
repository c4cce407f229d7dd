import { memberParam, type CsipClient, type Models } from "../csip/client.ts";
import { describeError } from "../errors.ts";
import { TASK_STATES } from "../results/model.ts";

export type ListedTask = Models.ScanTaskInfoList;

/** Pages of the task list read at most, so that a runaway answer cannot loop for ever. */
const MAX_PAGES = 100;
const PAGE = 100;

/**
 * The tasks CSIP holds whose names contain `fragment` (a run's task prefix, or one name), grouped by
 * exact name, oldest first. CSIP has no idempotency token, so the deterministic TaskName is how a
 * retried invocation recognises its own tasks, and more than one task under a name is a duplicate.
 * The filter field `TaskName` and "contains" (OperatorType 9) are assumptions
 * (local/emulator/ASSUMPTIONS.md); the names are checked here whatever the server returns.
 */
export async function tasksByName(csip: CsipClient, fragment: string): Promise<Map<string, ListedTask[]>> {
  const found = new Map<string, ListedTask[]>();
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await csip.call("DescribeScanTaskList", {
      Filter: { Limit: PAGE, Offset: page * PAGE, Filters: [{ Name: "TaskName", Values: [fragment], OperatorType: 9 }] },
    });
    for (const task of answer.Data ?? []) {
      if (!task.TaskId || !task.TaskName?.includes(fragment)) continue;
      const same = found.get(task.TaskName) ?? [];
      if (!same.some((t) => t.TaskId === task.TaskId)) same.push(task);
      found.set(task.TaskName, same);
    }
    if ((answer.Data?.length ?? 0) < PAGE || (page + 1) * PAGE >= (answer.TotalCount ?? 0)) break;
  }
  for (const tasks of found.values()) tasks.sort(oldestFirst);
  return found;
}

/** CSIP's InsertTime (`2026-11-29 11:00:00`, UTC+8) orders as text; ties by TaskId, so the choice is stable. */
function oldestFirst(a: ListedTask, b: ListedTask): number {
  const at = a.InsertTime ?? "";
  const bt = b.InsertTime ?? "";
  return at < bt ? -1 : at > bt ? 1 : (a.TaskId ?? "") < (b.TaskId ?? "") ? -1 : 1;
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
    others.map((t) => ({ taskId: t.TaskId!, ended: TASK_STATES[t.ScanStatus as keyof typeof TASK_STATES]?.ended ?? false })),
    memberIds,
  );
  return { kept: kept!, removed, failed };
}

/**
 * Stops each task (`StopRiskCenterTask`), then deletes it (`DeleteRiskScanTask`), with the policy's
 * `MemberId` where it has one. Whether CSIP lets an ended task be stopped is undocumented: for one,
 * a refused stop does not keep it from being deleted. One failing does not stop the others.
 */
export async function removeTasks(
  csip: CsipClient,
  tasks: readonly { taskId: string; ended: boolean }[],
  memberIds?: readonly string[],
): Promise<{ removed: string[]; failed: { taskId: string; message: string }[] }> {
  const result: { removed: string[]; failed: { taskId: string; message: string }[] } = { removed: [], failed: [] };
  for (const task of tasks) {
    const request = { TaskIdList: [{ TaskId: task.taskId }], ...memberParam(memberIds) };
    try {
      await csip.call("StopRiskCenterTask", request).catch((error: unknown) => {
        if (!task.ended) throw error;
      });
      await csip.call("DeleteRiskScanTask", request);
      result.removed.push(task.taskId);
    } catch (error) {
      result.failed.push({ taskId: task.taskId, message: describeError(error) });
    }
  }
  return result;
}
