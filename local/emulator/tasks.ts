import { randomBytes } from "node:crypto";
import type { ScanTaskInfoList, TaskAssetObject } from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_models.js";
import { isTaskShape } from "../../shared/assets/kinds.ts";
import { parseScfCron } from "../../shared/config/scf-cron.ts";
import { SCAN_ITEMS } from "../../shared/config/schema.ts";
import { SCAN_ASSET_TYPE, SCAN_NOW, SCAN_STATUS, type ScanAssetType } from "../../shared/csip/actions.ts";
import { csipTime, invalid, isAnswer, memberScope, missing, page, rulesOf, type Handler, type Params } from "./answers.ts";
import type { EstateAsset } from "./estate.ts";
import { names } from "./inventory.ts";
import type { EmulatedTask, EmulatorState, TaskEnd } from "./state.ts";

/**
 * Scan tasks: created, listed, stopped, deleted, and moving over emulated time from 0 (initial) to 1
 * (scanning) to 2 (done) or 3 (error). Where a task stands is computed from its creation time and the
 * emulator's clock; how it ended is fixed the first time a request finds it past its end (settleTasks).
 */

/** ErrorCode of a task that ended in error (the real codes are undocumented). */
export const SCAN_ERROR_CODE = 1;

const KNOWN_SCAN_ITEMS = new Set<string>(SCAN_ITEMS);

function hostOf(value: string): string {
  try {
    return value.includes("://") ? new URL(value).hostname : value;
  } catch {
    return value;
  }
}

interface Targets {
  assets: TaskAssetObject[];
  selfDefining: string[];
}

const listedNames = (t: Targets): string[] => t.assets.map((a) => a.Asset ?? "");

/** The authorized assets a request may scan (its member scope): all of them, or those a name names. */
interface Scope {
  all(): EstateAsset[];
  named(wanted: readonly string[]): EstateAsset[];
}

/**
 * Estate assets by name (ID and a CVM's public address), rebuilt when the estate array or its length
 * changes, so that a create naming 200 of 100,000 assets does not scan them all. A hit is checked
 * against the asset's names, a miss is scanned for: an asset changed in place is still found.
 */
const indexes = new WeakMap<EstateAsset[], { length: number; byName: Map<string, EstateAsset[]> }>();

function assetsNamed(state: EmulatorState, name: string): EstateAsset[] {
  let index = indexes.get(state.estate);
  if (!index || index.length !== state.estate.length) {
    const byName = new Map<string, EstateAsset[]>();
    for (const asset of state.estate) for (const n of names(asset)) byName.set(n, [...(byName.get(n) ?? []), asset]);
    index = { length: state.estate.length, byName };
    indexes.set(state.estate, index);
  }
  const hits = (index.byName.get(name) ?? []).filter((a) => names(a).includes(name));
  return hits.length > 0 ? hits : state.estate.filter((a) => names(a).includes(name));
}

function scopeOf(state: EmulatorState, p: Params): Scope {
  const inScope = memberScope(p);
  const allowed = (a: EstateAsset): boolean => a.authorized && inScope(a);
  return {
    all: () => state.estate.filter(allowed),
    named: (wanted) => [...new Set(wanted.flatMap((n) => assetsNamed(state, n).filter(allowed)))],
  };
}

/**
 * Per ScanAssetType: what the request names that must be authorized, and which assets of the request's
 * scope (authorized assets of its member accounts) the task scans. Choices: ASSUMPTIONS.md.
 */
const TARGETS: Record<ScanAssetType, { checked(t: Targets): string[]; covers(scope: Scope, t: Targets): EstateAsset[] }> = {
  [SCAN_ASSET_TYPE.all]: { checked: () => [], covers: (scope) => scope.all() },
  [SCAN_ASSET_TYPE.listed]: { checked: listedNames, covers: (scope, t) => scope.named(listedNames(t)) },
  [SCAN_ASSET_TYPE.allExcept]: {
    checked: () => [],
    covers: (scope, t) => {
      const excluded = new Set(scope.named(listedNames(t)));
      return scope.all().filter((a) => !excluded.has(a));
    },
  },
  [SCAN_ASSET_TYPE.typedIn]: { checked: (t) => t.selfDefining, covers: (scope, t) => scope.named(t.selfDefining.map(hostOf)) },
};

const isScanAssetType = (value: number): value is ScanAssetType => Object.hasOwn(TARGETS, value);

export const createRiskCenterScanTask: Handler = (p, { state, account, now }) => {
  const scanAssetType = p.ScanAssetType as number;
  const scanPlanType = p.ScanPlanType as number;
  if (!isScanAssetType(scanAssetType)) return invalid("ScanAssetType must be 0, 1, 2 or 3.");
  const assets = (p.Assets as TaskAssetObject[] | undefined) ?? [];
  const selfDefining = (p.SelfDefiningAssets as string[] | undefined) ?? [];
  if ((scanAssetType === SCAN_ASSET_TYPE.listed || scanAssetType === SCAN_ASSET_TYPE.allExcept) && assets.length === 0) {
    return missing("Assets", "ScanAssetType 1 and 2 need Assets");
  }
  if (scanAssetType === SCAN_ASSET_TYPE.typedIn && selfDefining.length === 0) {
    return missing("SelfDefiningAssets", "ScanAssetType 3 needs SelfDefiningAssets");
  }
  const odd = assets.find((a) => !isTaskShape(a.AssetType, a.InstanceType));
  if (odd) return invalid(`Assets: AssetType \`${odd.AssetType ?? ""}\` with InstanceType \`${odd.InstanceType ?? ""}\` is not a documented asset shape.`);
  if (![0, 1, 2, 3].includes(scanPlanType)) return invalid("ScanPlanType must be 0, 1, 2 or 3.");
  const content = typeof p.ScanPlanContent === "string" ? p.ScanPlanContent : "";
  if (scanPlanType !== SCAN_NOW) {
    if (!content) return missing("ScanPlanContent", "ScanPlanType 0, 2 and 3 need ScanPlanContent");
    if (content.trim().split(/\s+/).length !== 7 || !parseScfCron(content).ok) {
      return invalid("ScanPlanContent must be a 7-field cron expression.");
    }
  }
  const items = p.ScanItem as string[];
  if (items.length === 0 || items.some((i) => !KNOWN_SCAN_ITEMS.has(i))) {
    return invalid(`ScanItem values must be among ${SCAN_ITEMS.join(", ")}.`);
  }
  const mode = (p.TaskMode as number | undefined) ?? 0;
  if (![0, 1, 2].includes(mode)) return invalid("TaskMode must be 0, 1 or 2.");
  if (typeof p.TaskName !== "string" || p.TaskName.trim() === "") return invalid("TaskName must not be empty.");

  // Assets CSIP does not know, or knows as not authorized, come back in UnAuthAsset with Status -1.
  const scope = scopeOf(state, p);
  const row = TARGETS[scanAssetType];
  const unauthorized = row.checked({ assets, selfDefining }).filter((id) => scope.named([hostOf(id)]).length === 0);
  if (unauthorized.length > 0 && state.whenUnauthorized === "no-task") {
    return { response: { Status: -1, UnAuthAsset: unauthorized } };
  }
  const targets: Targets = {
    assets: scanAssetType === SCAN_ASSET_TYPE.listed ? assets.filter((a) => !unauthorized.includes(a.Asset ?? "")) : assets,
    selfDefining: selfDefining.filter((s) => !unauthorized.includes(s)),
  };
  const task: EmulatedTask = {
    TaskId: `rmis-${randomBytes(4).toString("hex")}`,
    TaskName: p.TaskName,
    AppId: account.appId,
    UIN: account.uin,
    Assets: targets.assets,
    SelfDefiningAssets: targets.selfDefining,
    ScanAssetType: scanAssetType,
    ScanItem: items.join(","),
    TaskType: scanPlanType,
    ScanPlanContent: content,
    TaskMode: mode,
    ScanFrom: typeof p.ScanFrom === "string" ? p.ScanFrom : "csip",
    InsertTime: csipTime(now),
    MemberId: (p.MemberId as string[] | undefined) ?? [],
    createdAt: now,
    covered: row.covers(scope, targets).map((a) => a.id),
    timing: { ...state.scanTiming },
  };
  state.tasks.push(task);
  if (unauthorized.length > 0 && state.whenUnauthorized === "task-without-id") return { response: { Status: -1, UnAuthAsset: unauthorized } };
  return { response: { TaskId: task.TaskId, Status: unauthorized.length > 0 ? -1 : 0, UnAuthAsset: unauthorized } };
};

/** Where a task stands by the clock alone. */
interface Progress {
  status: (typeof SCAN_STATUS)["initial" | "scanning" | "done"];
  startedAt?: number;
  /** Emulated time the scan ends. */
  endsAt?: number;
  /** The share of the scan done, 0 to 1. */
  fraction: number;
}

/** Only scan-now tasks run: a planned one waits for a schedule the emulator does not keep. */
function progressAt(task: EmulatedTask, now: number): Progress {
  if (task.TaskType !== SCAN_NOW) return { status: SCAN_STATUS.initial, fraction: 0 };
  const startedAt = task.createdAt + task.timing.queuedMs;
  const endsAt = startedAt + task.timing.scanningMs;
  if (now < startedAt) return { status: SCAN_STATUS.initial, fraction: 0 };
  if (now < endsAt) return { status: SCAN_STATUS.scanning, startedAt, endsAt, fraction: (now - startedAt) / task.timing.scanningMs };
  return { status: SCAN_STATUS.done, startedAt, endsAt, fraction: 1 };
}

/** A task that has not ended, as it stands at `now`. */
function standingAt(task: EmulatedTask, now: number): Omit<TaskEnd, "at"> {
  const progress = progressAt(task, now);
  return {
    status: progress.status,
    ...(progress.startedAt !== undefined ? { startedAt: progress.startedAt } : {}),
    percent: Math.floor(100 * progress.fraction),
    completeAssetNumber: Math.floor(task.covered.length * progress.fraction),
    riskCount: 0,
    errorCode: 0,
    errorInfo: "ok",
  };
}

const percentOf = (part: number, total: number): number => (total === 0 ? 100 : Math.floor((100 * part) / total));

/** The estate assets a task scans, as they are now. */
function coveredAssets(task: EmulatedTask, state: EmulatorState): EstateAsset[] {
  const covered = new Set(task.covered);
  return state.estate.filter(memberScope({ MemberId: task.MemberId })).filter((a) => covered.has(a.id));
}

/** How a scan that reached its end ends: in error when an asset says so, else done with its assets' current risks. */
function endOf(task: EmulatedTask, state: EmulatorState, startedAt: number, at: number): TaskEnd {
  const assets = coveredAssets(task, state);
  const failing = assets.filter((a) => a.scanError !== undefined);
  const total = task.covered.length;
  if (failing.length > 0) {
    const complete = total - failing.length;
    const errorInfo = [...new Set(failing.map((a) => a.scanError))].join("; ");
    return { status: SCAN_STATUS.error, at, startedAt, percent: percentOf(complete, total), completeAssetNumber: complete, riskCount: 0, errorCode: SCAN_ERROR_CODE, errorInfo };
  }
  return {
    status: SCAN_STATUS.done,
    at,
    startedAt,
    percent: 100,
    completeAssetNumber: task.covered.length,
    riskCount: assets.reduce((n, a) => n + (a.risks?.length ?? 0), 0),
    errorCode: 0,
    errorInfo: "ok",
    reportId: `rpt-${randomBytes(6).toString("hex")}`,
    reportViewed: false,
  };
}

/** Fixes how a task ended if it has reached its end by `now`. */
function settleTask(task: EmulatedTask, state: EmulatorState, now: number): void {
  if (task.end) return;
  const progress = progressAt(task, now);
  if (progress.status === SCAN_STATUS.done) task.end = endOf(task, state, progress.startedAt!, progress.endsAt!);
}

/** Ends every task whose end has come: the emulator calls it before and after each action. */
export function settleTasks(state: EmulatorState, now: number): void {
  for (const task of state.tasks) settleTask(task, state, now);
}

/** When a done task's report is listed and has a link, or undefined for a task without a report. */
export function reportReadyAt(task: EmulatedTask, state: EmulatorState): number | undefined {
  return task.end?.reportId ? task.end.at + state.reportDelayMs : undefined;
}

/** The task as DescribeScanTaskList shows it at `now` (the SDK's ScanTaskInfoList). */
export function scanTaskInfo(task: EmulatedTask, state: EmulatorState, now: number): ScanTaskInfoList {
  settleTask(task, state, now);
  const standing: Omit<TaskEnd, "at"> & { at?: number } = task.end ?? standingAt(task, now);
  const readyAt = reportReadyAt(task, state);
  const predictedEnd = task.createdAt + task.timing.queuedMs + task.timing.scanningMs;
  return {
    TaskId: task.TaskId,
    TaskName: task.TaskName,
    AppId: task.AppId,
    UIN: task.UIN,
    Assets: task.Assets,
    SelfDefiningAssets: task.SelfDefiningAssets,
    ScanAssetType: task.ScanAssetType,
    ScanItem: task.ScanItem,
    TaskType: task.TaskType,
    ScanPlanContent: task.ScanPlanContent,
    TaskMode: task.TaskMode,
    ScanFrom: task.ScanFrom,
    InsertTime: task.InsertTime,
    ScanStatus: standing.status,
    Percent: standing.percent,
    AssetNumber: task.covered.length,
    CompleteAssetNumber: standing.completeAssetNumber,
    RiskCount: standing.riskCount,
    ErrorCode: standing.errorCode,
    ErrorInfo: standing.errorInfo,
    StartTime: standing.startedAt !== undefined ? csipTime(standing.startedAt) : "",
    EndTime: standing.at !== undefined ? csipTime(standing.at) : "",
    PredictTime: Math.ceil((predictedEnd - task.createdAt) / 60_000),
    PredictEndTime: csipTime(predictedEnd),
    ReportNumber: readyAt !== undefined && now >= readyAt ? 1 : 0,
    CompleteNumber: standing.status === SCAN_STATUS.done ? 1 : 0,
    Frequency: 0,
    IsDelete: 1,
    IsFree: 0,
    SourceType: 0,
  };
}

/**
 * Whether a call sees a task: a member's task (created with MemberId) only when the call names one of
 * its members, the caller's own only when the call names none (the DescribeScanTaskList and
 * DeleteRiskScanTask examples pass MemberId for a member's tasks).
 */
export function visibleTo(params: Params): (task: EmulatedTask) => boolean {
  const members = Array.isArray(params.MemberId) ? (params.MemberId as string[]) : [];
  return (task) => (task.MemberId.length === 0 ? members.length === 0 : task.MemberId.some((m) => members.includes(m)));
}

/** The caller's tasks the call sees, newest first (among tasks created in the same millisecond, the later one first). */
export function tasksOf(state: EmulatorState, appId: string, params: Params = {}): EmulatedTask[] {
  const visible = visibleTo(params);
  return state.tasks
    .filter((t) => t.AppId === appId && visible(t))
    .reverse()
    .sort((a, b) => b.createdAt - a.createdAt);
}

export const describeScanTaskList: Handler = (p, context) => {
  const { state, account, now } = context;
  const listed = tasksOf(state, account.appId, p);
  const result = page(state.taskOrder === "oldest-first" ? listed.reverse() : listed, p, rulesOf(context), (t) => scanTaskInfo(t, state, now));
  if (isAnswer(result)) return result;
  return {
    response: {
      TotalCount: result.total,
      Data: result.page,
      UINList: [account.uin],
      TaskModeList: [
        { Text: "标准体检", Value: "0" },
        { Text: "快速体检", Value: "1" },
        { Text: "高级体检", Value: "2" },
      ],
    },
  };
};

function taskIds(p: Params): string[] {
  return taskKeys(p).map((t) => t.TaskId);
}

function taskKeys(p: Params): { TaskId: string; TargetAppId?: string }[] {
  return (p.TaskIdList as { TaskId: string; TargetAppId?: string }[] | undefined) ?? [];
}

/** Stops a task that has not ended: ScanStatus 4, its progress frozen. A task that has ended stays as it is. */
export const stopRiskCenterTask: Handler = (p, { state, account, now }) => {
  const ids = taskIds(p);
  const tasks = tasksOf(state, account.appId, p).filter((t) => ids.includes(t.TaskId));
  if (tasks.length !== ids.length) return invalid("TaskIdList names a task that does not exist.");
  for (const task of tasks.filter((t) => !t.end)) task.end = { ...standingAt(task, now), status: SCAN_STATUS.stopped, at: now };
  return { response: { Status: 0 } };
};

/**
 * Deletes tasks, and with them their reports. A member's task needs the call to name its MemberId and
 * its AppId as TargetAppId (the DeleteRiskScanTask example passes both); a TargetAppId given must be
 * the task's.
 */
export const deleteRiskScanTask: Handler = (p, { state, account }) => {
  const keys = taskKeys(p);
  const visible = new Map(tasksOf(state, account.appId, p).map((t) => [t.TaskId, t]));
  const named = keys.map((k) => ({ key: k, task: visible.get(k.TaskId) }));
  const wrong = named.filter(({ key, task }) => !task || (key.TargetAppId ?? (task.MemberId.length > 0 ? undefined : task.AppId)) !== task.AppId);
  if (wrong.length > 0) return invalid(`TaskIdList names a task that does not exist: ${wrong.map((w) => w.key.TaskId).join(", ")}.`);
  const gone = new Set(named.map((n) => n.task!));
  state.tasks = state.tasks.filter((t) => !gone.has(t));
  return { response: {} };
};
