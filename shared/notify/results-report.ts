import type { Finding, RunResults } from "../results/model.ts";
import type { RunTrigger } from "./report.ts";

/** What the people are told of a finished run, in one word. */
export type ResultsStatus = "all clear" | "risks found" | "failed" | "incomplete";

/** A finding as reports show it. */
export type ReportedFinding = Pick<Finding, "id" | "kind" | "asset" | "level" | "name"> & Partial<Pick<Finding, "assetName" | "cve" | "fix">>;

/**
 * The body of a results notification to a generic webhook (`schema: csip-scan.results/v1`), signed
 * like the others. The README documents it; change it only by adding fields.
 */
export interface ResultsReport {
  schema: "csip-scan.results/v1";
  policy: string;
  trigger: RunTrigger;
  scheduledTime: string;
  status: ResultsStatus;
  riskCount: number;
  tasks: {
    taskId: string;
    taskName: string;
    status: string;
    assets: number;
    assetsScanned: number;
    riskCount: number;
    durationSeconds?: number;
    error?: string;
    reportUrl?: string;
  }[];
  /** The worst current findings on the scanned assets, most severe first. */
  findings: ReportedFinding[];
  /** How many current findings there are in all. */
  findingsTotal: number;
  /** Set when a risk list was longer than its read cap: the findings are a part, and the message says so. */
  findingsCapped?: string;
  /** The previous run of the same policy that results were told of, if one is known. */
  previous: { scheduledTime: string; riskCount: number } | null;
  riskCountChange: number | null;
  /** Findings the previous run did not have (at most 20 listed; the count is whole). */
  newFindings: ReportedFinding[];
  newFindingsCount: number;
  /** Findings the previous run had that are gone (at most 20 listed; the count is whole). */
  goneFindings: { id: string; name: string; asset: string; level: string }[];
  goneFindingsCount: number;
  /** TaskIds still running when `results.giveUpAfter` passed. */
  stillRunning: string[];
  note: string;
}

export const FINDINGS_NOTE =
  "Findings are the scanned assets' current risks in CSIP: the risk lists do not filter by task, so they may include what other scans found.";

/** At most this many new or gone findings are listed; the counts are always whole. */
const LISTED_CHANGES = 20;

function statusOf(r: RunResults): ResultsStatus {
  if (r.tasks.some((t) => t.state === "failed" || t.state === "stopped" || t.state === "not found")) return "failed";
  if (r.gaveUp) return "incomplete";
  return r.allClear ? "all clear" : "risks found";
}

const finding = (f: Finding): ReportedFinding => ({ id: f.id, kind: f.kind, asset: f.asset, level: f.level, name: f.name, ...(f.assetName ? { assetName: f.assetName } : {}), ...(f.cve ? { cve: f.cve } : {}), ...(f.fix ? { fix: f.fix } : {}) });

/** The results report of a run. */
export function resultsReport(r: RunResults): ResultsReport {
  return {
    schema: "csip-scan.results/v1",
    policy: r.policy,
    trigger: r.trigger,
    scheduledTime: r.scheduledTime,
    status: statusOf(r),
    riskCount: r.riskCount,
    tasks: r.tasks.map((t) => ({
      taskId: t.taskId,
      taskName: t.taskName,
      status: t.state,
      assets: t.assets,
      assetsScanned: t.assetsScanned,
      riskCount: t.riskCount,
      ...(t.durationSeconds !== undefined ? { durationSeconds: t.durationSeconds } : {}),
      ...(t.error ? { error: t.error } : {}),
      ...(t.reportUrl ? { reportUrl: t.reportUrl } : {}),
    })),
    findings: r.findings.map(finding),
    findingsTotal: r.findingsTotal,
    ...(r.findingsCapped ? { findingsCapped: r.findingsCapped } : {}),
    previous: r.comparison.previous ?? null,
    riskCountChange: r.comparison.riskCountChange ?? null,
    newFindings: r.comparison.newFindings.slice(0, LISTED_CHANGES).map(finding),
    newFindingsCount: r.comparison.newFindings.length,
    goneFindings: r.comparison.goneFindings.slice(0, LISTED_CHANGES),
    goneFindingsCount: r.comparison.goneFindings.length,
    stillRunning: r.tasks.filter((t) => !t.ended).map((t) => t.taskId),
    note: FINDINGS_NOTE,
  };
}
