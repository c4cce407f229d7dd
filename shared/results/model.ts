import type { RiskKind } from "../csip/actions.ts";
import type { DuplicateRemoval } from "../scan/task-list.ts";
import type { TaskState } from "../scan/task-status.ts";

/** What fired a run. */
export type RunTrigger = "timer" | "manual" | "asset-change";

/** What the people are told of a finished run, in one word. */
export type ResultsStatus = "all clear" | "risks found" | "failed" | "incomplete";

/** What CSIP says of one task, in words. */
export interface TaskResult {
  taskId: string;
  taskName: string;
  state: TaskState;
  ended: boolean;
  /** Assets in the task, and how many are scanned. */
  assets: number;
  assetsScanned: number;
  riskCount: number;
  /** Seconds from StartTime to EndTime, when both are known. */
  durationSeconds?: number;
  /** When it ended (EndTime), ms since the epoch. */
  endedAt?: number;
  /** When CSIP made it (InsertTime), ms since the epoch: of two tasks of one name, the oldest is kept. */
  insertedAt?: number;
  /** The account that holds it (AppId): a member's task is deleted naming it as TargetAppId. */
  appId?: string;
  /** CSIP's ErrorInfo when the task failed. */
  error?: string;
  /** The report's temporary PDF link (DescribeTaskLogURL), when there is one yet. */
  reportUrl?: string;
  /**
   * What the task covers, to select the current findings: `assets` are read from the risk lists by
   * InstanceId (CVMs, databases), `typedIn` by AffectAsset (typed-in addresses, and public IPs and
   * domains, which the risk rows name by address: shared/assets/kinds.ts `findingsBy`).
   */
  scope: { assets: string[]; typedIn: string[]; everything: boolean };
}

/** Severity of a finding, most severe first (CSIP's `Level`). */
export const LEVELS = ["extreme", "high", "middle", "low", "info"] as const;
export type Level = (typeof LEVELS)[number] | "unknown";

/** One current risk of a scanned asset (the per-asset risk lists do not filter by task). */
export interface Finding {
  /** CSIP's risk ID: what the comparison with the previous run counts as the same finding. */
  id: string;
  kind: RiskKind;
  asset: string;
  assetName?: string;
  level: Level;
  name: string;
  cve?: string;
  /** CSIP's fix text, shortened. */
  fix?: string;
  /** When CSIP first found it (the row's FirstTime), ms since the epoch. */
  firstSeen?: number;
}

/** How this run's findings compare with the previous run of the same policy. */
export interface Comparison {
  previous: { scheduledTime: string; riskCount: number } | undefined;
  riskCountChange: number | undefined;
  /** Findings by ID that the previous run did not have, and those it had that are gone. */
  newFindings: Finding[];
  goneFindings: { id: string; name: string; asset: string; level: Level }[];
}

/** A part of the results that could not be looked up by the time `results.giveUpAfter` passed. */
export interface MissingPart {
  part: "report links" | "findings";
  reason: string;
}

/** No comparison: for a run whose tasks did not all end done, or whose findings are not known. */
export const NO_COMPARISON: Comparison = { previous: undefined, riskCountChange: undefined, newFindings: [], goneFindings: [] };

/** The results of one policy run: its tasks to their end (or as far as known), what they found, the change. */
export interface RunResults {
  policy: string;
  trigger: RunTrigger;
  scheduledTime: string;
  /** The record key of the run (shared/state/keys.ts): its identity. */
  run: string;
  tasks: TaskResult[];
  /** Every task ended. */
  ended: boolean;
  /** Sent before every task ended: `results.giveUpAfter` passed. */
  gaveUp: boolean;
  riskCount: number;
  /** Every task ended, none failed, and no risk was found. */
  allClear: boolean;
  /** The worst current findings on the scanned assets, most severe first, at most `results.topFindings`. */
  findings: Finding[];
  findingsTotal: number;
  /** Set when the findings are not every current finding: a list was longer than its read cap. */
  findingsCapped?: string;
  comparison: Comparison;
  /** What could not be looked up: sent without it after `results.giveUpAfter`. */
  missing: MissingPart[];
  /** Duplicate tasks of the run found in CSIP's task list and removed. */
  duplicatesRemoved: DuplicateRemoval[];
}

/** A run's status in one word: failed before incomplete before all clear. */
export function statusOf(r: RunResults): ResultsStatus {
  if (r.tasks.some((t) => t.state === "failed" || t.state === "stopped" || t.state === "not found")) return "failed";
  if (r.gaveUp) return "incomplete";
  return r.allClear ? "all clear" : "risks found";
}
