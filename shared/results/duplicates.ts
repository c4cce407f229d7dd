import type { CsipClient } from "../csip/client.ts";
import { olderFirst, removeTasks, type DuplicateRemoval } from "../scan/task-list.ts";
import { parseTaskName } from "../state/keys.ts";
import type { TaskResult } from "./model.ts";

/** Oldest first by InsertTime, by the one rule of shared/scan/task-list.ts. */
function oldestFirst(a: TaskResult, b: TaskResult): number {
  return olderFirst({ at: a.insertedAt, taskId: a.taskId }, { at: b.insertedAt, taskId: b.taskId });
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
