import type { CsipClient } from "../csip/client.ts";
import { removeTasks, type DuplicateRemoval } from "../scan/task-list.ts";
import { parseTaskName } from "../state/keys.ts";
import type { TaskResult } from "./model.ts";

/** Oldest first by InsertTime (a task without one last); ties by TaskId, so the choice is stable. */
function oldestFirst(a: TaskResult, b: TaskResult): number {
  const at = a.insertedAt ?? Number.POSITIVE_INFINITY;
  const bt = b.insertedAt ?? Number.POSITIVE_INFINITY;
  return at !== bt ? at - bt : a.taskId < b.taskId ? -1 : 1;
}

/**
 * Removes duplicate csip-scan tasks from a read of CSIP's task list: of the tasks that share a
 * csip-scan TaskName, the oldest is kept and the others are stopped and deleted, with the policy's
 * `MemberId` where it has one. A create that answered a failure may land at any time later (CSIP has
 * no idempotency token), and the run that made it has moved on: the scan-results look, which reads the
 * task list every `checkEvery`, is where such a second task is found and removed.
 */
export async function removeDuplicateTasks(
  csip: CsipClient,
  listed: Iterable<TaskResult>,
  memberIdsOf: (policy: string) => readonly string[] | undefined,
): Promise<DuplicateRemoval[]> {
  const byName = new Map<string, TaskResult[]>();
  for (const task of listed) {
    if (!parseTaskName(task.taskName)) continue;
    byName.set(task.taskName, [...(byName.get(task.taskName) ?? []), task]);
  }
  const removals: DuplicateRemoval[] = [];
  for (const [taskName, tasks] of byName) {
    if (tasks.length < 2) continue;
    const [kept, ...others] = [...tasks].sort(oldestFirst);
    const { removed, failed } = await removeTasks(csip, others, memberIdsOf(parseTaskName(taskName)!.policy));
    removals.push({ taskName, kept: kept!.taskId, removed, failed });
  }
  return removals;
}
