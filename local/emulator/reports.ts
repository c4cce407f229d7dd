import type { TaskLogInfo, TaskLogURL } from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_models.js";
import { SCAN_STATUS } from "../../shared/csip/actions.ts";
import { csipTime, invalid, isAnswer, missing, page, rulesOf, type Handler, type Params } from "./answers.ts";
import { textPdf } from "./pdf.ts";
import type { EmulatedTask, EmulatorState } from "./state.ts";
import { reportReadyAt, tasksOf } from "./tasks.ts";

/**
 * Scan reports (DescribeTaskLogList, DescribeTaskLogURL): a done task has one, listed once the state's
 * reportDelayMs has passed after the task ended. Its link points at the emulator itself, which serves a
 * small PDF there without a signature, as a presigned COS link would be used.
 */

interface Report {
  id: string;
  task: EmulatedTask;
  readyAt: number;
}

/** The reports listed at `now`, newest first; the caller's only when `appId` is given. */
function readyReports(state: EmulatorState, now: number, appId?: string, params: Params = {}): Report[] {
  const tasks = appId === undefined ? state.tasks : tasksOf(state, appId, params);
  return tasks
    .flatMap((task) => {
      const readyAt = reportReadyAt(task, state);
      return task.end?.reportId && readyAt !== undefined && now >= readyAt ? [{ id: task.end.reportId, task, readyAt }] : [];
    })
    .sort((a, b) => b.readyAt - a.readyAt);
}

/** Where the emulator serves a report: a path of its own, like the COS object of the real link. */
export const REPORT_PATH = /^\/reports\/(rpt-[0-9a-f]+)\.pdf$/;
const reportUrl = (origin: string, id: string): string => `${origin}/reports/${id}.pdf`;

/** Status is the task's status code (the reference's TaskLogInfo.Status): always 2, as only done tasks have reports. */
function taskLogInfo({ id, task, readyAt }: Report): TaskLogInfo {
  const end = task.end!;
  return {
    TaskLogId: id,
    TaskLogName: task.TaskName,
    TaskName: task.TaskName,
    TaskCenterTaskId: task.TaskId,
    AssetsNumber: task.covered.length,
    RiskNumber: end.riskCount,
    Status: SCAN_STATUS.done,
    Time: csipTime(readyAt),
    StartTime: end.startedAt !== undefined ? csipTime(end.startedAt) : "",
    AppId: task.AppId,
    UIN: task.UIN,
    ReportType: 1,
    TemplateId: 1,
  };
}

export const describeTaskLogList: Handler = (p, context) => {
  const { state, account, now } = context;
  const reports = readyReports(state, now, account.appId, p);
  const result = page(reports, p, rulesOf(context), taskLogInfo);
  if (isAnswer(result)) return result;
  return {
    response: {
      TotalCount: result.total,
      Data: result.page,
      NotViewNumber: reports.filter((r) => !r.task.end?.reportViewed).length,
      ReportTemplateNumber: 1,
    },
  };
};

/**
 * Links to reports named by report ID (ReportItemKeyList) or task ID (ReportTaskIdList). An ID that names
 * no listed report, or no task of the caller, is an error naming it; a task without a report yet adds nothing.
 */
export const describeTaskLogURL: Handler = (p, { state, account, now, origin }) => {
  if (p.Type !== 0 && p.Type !== 1) return invalid("Type must be 0 (preview) or 1 (download).");
  const logIds = ((p.ReportItemKeyList as { TaskLogList?: string[] }[] | undefined) ?? []).flatMap((k) => k.TaskLogList ?? []);
  const taskIds = ((p.ReportTaskIdList as { TaskIdList?: string[] }[] | undefined) ?? []).flatMap((k) => k.TaskIdList ?? []);
  if (logIds.length === 0 && taskIds.length === 0) {
    return missing("ReportItemKeyList", "name reports in ReportItemKeyList.TaskLogList or tasks in ReportTaskIdList.TaskIdList");
  }
  const reports = readyReports(state, now, account.appId, p);
  const tasks = new Set(tasksOf(state, account.appId, p).map((t) => t.TaskId));
  const unknown = [...logIds.filter((id) => !reports.some((r) => r.id === id)), ...taskIds.filter((id) => !tasks.has(id))];
  if (unknown.length > 0) return invalid(`No such report or task: ${unknown.join(", ")}.`);
  const wanted = [
    ...logIds.map((id) => reports.find((r) => r.id === id)!),
    ...taskIds.flatMap((id) => reports.filter((r) => r.task.TaskId === id)),
  ];
  const unique = [...new Map(wanted.map((r) => [r.id, r])).values()];
  const data: TaskLogURL[] = unique.map((r) => {
    r.task.end!.reportViewed = true;
    return { URL: reportUrl(origin, r.id), LogId: r.id, TaskLogName: r.task.TaskName, AppId: r.task.AppId };
  });
  return { response: { Data: data } };
};

/** The PDF of a listed report, or undefined: what GET /reports/<id>.pdf answers. */
export function reportPdf(state: EmulatorState, id: string, now: number): Buffer | undefined {
  const report = readyReports(state, now).find((r) => r.id === id);
  if (!report) return undefined;
  const info = taskLogInfo(report);
  return textPdf([
    "CSIP scan report (csip-scan local emulator)",
    `Report: ${report.id}`,
    `Task: ${report.task.TaskId} ${report.task.TaskName}`,
    `Assets: ${info.AssetsNumber ?? 0}`,
    `Risks: ${info.RiskNumber ?? 0}`,
    `Scanned: ${info.StartTime ?? ""} to ${csipTime(report.task.end!.at)} (UTC+8)`,
  ]);
}
