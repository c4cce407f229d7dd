import type { CsipClient } from "../csip/client.ts";

/** Reports asked for in one call. */
const PER_CALL = 50;

/**
 * The temporary PDF links of the reports of finished tasks, by TaskId: DescribeTaskLogList finds each
 * task's report (`TaskCenterTaskId` is the task's `rmis-` ID; the filter is an assumption, and the rows
 * are matched here), DescribeTaskLogURL (Type 1) makes its link. A task without a report yet has none.
 */
export async function reportLinks(csip: CsipClient, taskIds: readonly string[]): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  const reportOf = new Map<string, string>();
  for (let i = 0; i < taskIds.length; i += PER_CALL) {
    const batch = taskIds.slice(i, i + PER_CALL);
    const answer = await csip.call("DescribeTaskLogList", {
      Filter: { Limit: 100, Offset: 0, Filters: [{ Name: "TaskCenterTaskId", Values: batch, OperatorType: 7 }] },
    });
    for (const row of (answer.Data ?? []) as { TaskLogId?: string; TaskCenterTaskId?: string }[]) {
      if (row.TaskLogId && row.TaskCenterTaskId && batch.includes(row.TaskCenterTaskId) && !reportOf.has(row.TaskCenterTaskId)) reportOf.set(row.TaskCenterTaskId, row.TaskLogId);
    }
  }
  const reports = [...reportOf.values()];
  for (let i = 0; i < reports.length; i += PER_CALL) {
    const batch = reports.slice(i, i + PER_CALL);
    const answer = await csip.call("DescribeTaskLogURL", { Type: 1, ReportItemKeyList: [{ TaskLogList: batch }] });
    for (const link of answer.Data ?? []) {
      const task = [...reportOf].find(([, report]) => report === link.LogId)?.[0];
      if (task && link.URL) links.set(task, link.URL);
    }
  }
  return links;
}
