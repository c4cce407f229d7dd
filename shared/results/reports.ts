import { memberParam, type CsipClient } from "../csip/client.ts";
import { ignoredFilterWarning, readFiltered } from "../csip/pager.ts";

/** How a task's report is found: DescribeTaskLogList by TaskCenterTaskId, the task's `rmis-` ID, exact (undocumented). */
export const REPORT_FILTER = { action: "DescribeTaskLogList", field: "TaskCenterTaskId", operator: 7 } as const;

/** Reports asked for in one call. */
const PER_CALL = 50;

export interface ReportLinks {
  /** The PDF link of each task's report, by TaskId. */
  links: Map<string, string>;
  calls: number;
  /** One per action whose filter the server ignored. */
  warnings: string[];
}

/**
 * The temporary PDF links of the reports of finished tasks, by TaskId: DescribeTaskLogList finds each
 * task's report (`TaskCenterTaskId` is the task's `rmis-` ID; the filter is undocumented, so the rows
 * are matched here and the list read to its end), DescribeTaskLogURL (Type 1) makes its link. Both
 * take the policy's MemberId, as their parameter lists allow. A task without a report yet has none.
 */
export async function reportLinks(csip: CsipClient, taskIds: readonly string[], memberIds?: readonly string[]): Promise<ReportLinks> {
  const links = new Map<string, string>();
  const reportOf = new Map<string, string>();
  const listed = await readFiltered({
    csip,
    action: REPORT_FILTER.action,
    request: { ...memberParam(memberIds) },
    field: REPORT_FILTER.field,
    values: taskIds,
    batch: PER_CALL,
  });
  let calls = listed.calls;
  for (const row of listed.rows as { TaskLogId?: string; TaskCenterTaskId?: string }[]) {
    if (row.TaskLogId && row.TaskCenterTaskId && !reportOf.has(row.TaskCenterTaskId)) reportOf.set(row.TaskCenterTaskId, row.TaskLogId);
  }
  const taskOf = new Map([...reportOf].map(([task, report]) => [report, task]));
  const reports = [...reportOf.values()];
  for (let i = 0; i < reports.length; i += PER_CALL) {
    const batch = reports.slice(i, i + PER_CALL);
    calls++;
    const answer = await csip.call("DescribeTaskLogURL", { Type: 1, ...memberParam(memberIds), ReportItemKeyList: [{ TaskLogList: batch }] });
    for (const link of answer.Data ?? []) {
      const task = link.LogId ? taskOf.get(link.LogId) : undefined;
      if (task && link.URL) links.set(task, link.URL);
    }
  }
  return { links, calls, warnings: listed.ignored ? [ignoredFilterWarning("DescribeTaskLogList", listed.ignored)] : [] };
}
