import type { TaskAssetObject } from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_models.js";
import type { SCAN_STATUS } from "../../shared/csip/actions.ts";
import type { EstateAsset } from "./estate.ts";

/** What the emulator holds: the estate, the tasks and the settings tests may change between steps. */

export type ScanStatus = (typeof SCAN_STATUS)[keyof typeof SCAN_STATUS];

/** How long a scan-now task waits (ScanStatus 0), then scans (1), in emulated milliseconds. */
export interface ScanTiming {
  queuedMs: number;
  scanningMs: number;
}

/** A few seconds each, so that `npm start` shows finished tasks well within a minute. */
export const DEFAULT_SCAN_TIMING: ScanTiming = { queuedMs: 2_000, scanningMs: 6_000 };

/** How a task ended, fixed when it ended: what DescribeScanTaskList shows from then on. */
export interface TaskEnd {
  /** 2 done, 3 error, 4 stopped. */
  status: ScanStatus;
  /** Emulated milliseconds since the epoch. */
  at: number;
  /** When the task began scanning; absent when it was stopped before. */
  startedAt?: number;
  percent: number;
  completeAssetNumber: number;
  /** Risk rows on the task's assets when it ended (0 unless done). */
  riskCount: number;
  errorCode: number;
  errorInfo: string;
  /** The report of a done task (`rpt-…`); it is listed once `reportDelayMs` has passed. */
  reportId?: string;
  /** Whether DescribeTaskLogURL handed out the report's link (DescribeTaskLogList's NotViewNumber). */
  reportViewed?: boolean;
}

export interface EmulatedTask {
  TaskId: string;
  TaskName: string;
  AppId: string;
  UIN: string;
  Assets: TaskAssetObject[];
  SelfDefiningAssets: string[];
  ScanAssetType: number;
  ScanItem: string;
  TaskType: number;
  ScanPlanContent: string;
  TaskMode: number;
  ScanFrom: string;
  InsertTime: string;
  MemberId: string[];
  /** Emulated milliseconds since the epoch, for newest-first ordering and the task's progress. */
  createdAt: number;
  /** The IDs of the estate assets the task scans, fixed at creation (AssetNumber). */
  covered: string[];
  /** The state's scanTiming when the task was created. */
  timing: ScanTiming;
  end?: TaskEnd;
}

/**
 * What CSIP does with a chunk holding unauthorized assets (undocumented, see ASSUMPTIONS.md): creates no
 * task; creates one for the authorized assets and names it in the answer; or creates one and does not
 * name it (so only a look at the task list finds it).
 */
export const UNAUTHORIZED_ANSWERS = ["no-task", "task-with-id", "task-without-id"] as const;
export type UnauthorizedAnswer = (typeof UNAUTHORIZED_ANSWERS)[number];

export interface EmulatorState {
  /** The estate, with each asset's current risks; tests may change it between steps. */
  estate: EstateAsset[];
  /** Assets CSIP has not discovered yet: CreateAssetSyncTask adds them to the estate. */
  pendingSync: EstateAsset[];
  tasks: EmulatedTask[];
  whenUnauthorized: UnauthorizedAnswer;
  maxPageSize: number;
  /** The emulated clock (milliseconds since the epoch): task progress, times in answers, report readiness. */
  now: () => number;
  /** The timing of tasks created from now on. */
  scanTiming: ScanTiming;
  /** How long after a task is done its report is listed and has a link. */
  reportDelayMs: number;
  /** The emulated time the emulator started: every risk's FirstTime. */
  startedAt: number;
  /** `Action.FilterName` pairs the emulator answers as if the filter were not there (a fault). */
  ignoredFilters: Set<string>;
  /** `Action.FilterName` pairs the emulator refuses with FILTER_REFUSAL.name (a reading: switches.ts). */
  refusedFilters: Set<string>;
  /** How a filter with several values is answered (a reading: switches.ts). */
  multiValueFilters: MultiValueAnswer;
  /** The order DescribeScanTaskList lists tasks in (a reading: switches.ts). */
  taskOrder: TaskOrder;
  /**
   * Assets that join the estate at the front of their kind's list as soon as a first page (Offset 0) of
   * that list has been answered: the later pages shift by one and repeat a row (`Emulator.addDuringRead`).
   */
  arrivingDuringRead: EstateAsset[];
}

/**
 * The largest Filter.Limit a list takes unless told otherwise: CSIP documents none, 100 is the assumption
 * (ASSUMPTIONS.md). A larger one is refused with InvalidParameterValue; `maxPageSize` changes it (a reading:
 * switches.ts).
 */
export const DEFAULT_MAX_PAGE_SIZE = 100;

/**
 * How the emulator answers a filter with several `Values`: matching any (ORed, the reading the project
 * was written to), only the first, or with a refusal. Which the real CSIP does is undocumented.
 */
export const MULTI_VALUE_ANSWERS = ["ored", "first-only", "refused"] as const;
export type MultiValueAnswer = (typeof MULTI_VALUE_ANSWERS)[number];

/** DescribeScanTaskList's order: newest first (as the console shows it) or oldest first. Undocumented. */
export const TASK_ORDERS = ["newest-first", "oldest-first"] as const;
export type TaskOrder = (typeof TASK_ORDERS)[number];

/**
 * The errors of a refused filter. No document names them: `InvalidParameter` for several values and
 * `InvalidParameterValue` for a name (the code the emulator gives a name it does not know) are guesses
 * of what a real refusal would plausibly carry (ASSUMPTIONS.md). The project decides nothing on them.
 */
export const FILTER_REFUSAL = {
  values: { code: "InvalidParameter", message: "Filter.Filters.Values takes one value." },
  name: { code: "InvalidParameterValue", message: "is not supported." },
} as const;
