import { statusOf, type Finding, type MissingPart, type ResultsStatus, type RunResults, type RunTrigger } from "../results/model.ts";
import type { PageLink } from "../results/publish.ts";
import type { DuplicateRemoval } from "../scan/task-list.ts";
import { OUTSIDE_LIMITS, outsideText } from "./outside-text.ts";

/** A finding as reports show it. */
export type ReportedFinding = Pick<Finding, "id" | "kind" | "asset" | "level" | "name"> & Partial<Pick<Finding, "assetName" | "cve" | "fix">>;

/**
 * The body of a results notification to a generic webhook (`schema: csip-scan.results/v1`), signed
 * like the others. docs/results.md documents it; change it only by adding fields.
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
  /** What could not be looked up by the time `results.giveUpAfter` passed: sent without it (always set since it was added). */
  missing?: MissingPart[];
  /** Duplicate tasks of the run (a create that landed late) that were stopped and deleted (always set since it was added). */
  duplicatesRemoved?: Pick<DuplicateRemoval, "taskName" | "kept" | "removed">[];
  note: string;
  /** The policy's results page (trend, every current finding), when one was published. */
  page?: string;
  /**
   * How the page's link opens: `page` in the browser, `download` as a file the browser saves (COS's
   * default domain), `file` on the machine that ran csip-scan. Set with `page`.
   */
  pageOpens?: PageLink["opens"];
  /** When the page's link stops working (ISO 8601 UTC), when known: `results.pageLinkValidFor` after the message. */
  pageValidUntil?: string;
  /** True when the link may stop sooner: presigned with the function's temporary keys, it dies with their token. */
  pageExpiresWithKeys?: boolean;
}

export const FINDINGS_NOTE =
  "Findings are the scanned assets' current risks in CSIP: the risk lists do not filter by task, so they may include what other scans found.";

/** At most this many new or gone findings are listed; the counts are always whole. */
const LISTED_CHANGES = 20;

/** A name CSIP gave, and a text CSIP said (an error, a fix), as a report may carry them (shared/notify/outside-text.ts). */
const name = (text: string): string => outsideText(text, OUTSIDE_LIMITS.name);
const said = (text: string): string => outsideText(text, OUTSIDE_LIMITS.line);

const finding = (f: Finding): ReportedFinding => ({
  id: name(f.id),
  kind: f.kind,
  asset: name(f.asset),
  level: f.level,
  name: name(f.name),
  ...(f.assetName ? { assetName: name(f.assetName) } : {}),
  ...(f.cve ? { cve: name(f.cve) } : {}),
  ...(f.fix ? { fix: said(f.fix) } : {}),
});

/**
 * The results report of a run, linking the policy's results page when there is one; what CSIP said in it
 * is scrubbed, visible and shortened.
 */
export function resultsReport(r: RunResults, page?: PageLink): ResultsReport {
  return {
    schema: "csip-scan.results/v1",
    policy: r.policy,
    trigger: r.trigger,
    scheduledTime: r.scheduledTime,
    status: statusOf(r),
    riskCount: r.riskCount,
    tasks: r.tasks.map((t) => ({
      taskId: t.taskId,
      taskName: name(t.taskName),
      status: t.state,
      assets: t.assets,
      assetsScanned: t.assetsScanned,
      riskCount: t.riskCount,
      ...(t.durationSeconds !== undefined ? { durationSeconds: t.durationSeconds } : {}),
      ...(t.error ? { error: said(t.error) } : {}),
      ...(t.reportUrl ? { reportUrl: t.reportUrl } : {}),
    })),
    findings: r.findings.map(finding),
    findingsTotal: r.findingsTotal,
    ...(r.findingsCapped ? { findingsCapped: r.findingsCapped } : {}),
    previous: r.comparison.previous ?? null,
    riskCountChange: r.comparison.riskCountChange ?? null,
    newFindings: r.comparison.newFindings.slice(0, LISTED_CHANGES).map(finding),
    newFindingsCount: r.comparison.newFindings.length,
    goneFindings: r.comparison.goneFindings.slice(0, LISTED_CHANGES).map((f) => ({ id: name(f.id), name: name(f.name), asset: name(f.asset), level: f.level })),
    goneFindingsCount: r.comparison.goneFindings.length,
    stillRunning: r.tasks.filter((t) => !t.ended).map((t) => t.taskId),
    missing: r.missing,
    duplicatesRemoved: r.duplicatesRemoved.map((d) => ({ taskName: d.taskName, kept: d.kept, removed: d.removed })),
    note: FINDINGS_NOTE,
    ...(page
      ? {
          page: page.url,
          pageOpens: page.opens,
          ...(page.validUntil ? { pageValidUntil: page.validUntil } : {}),
          ...(page.expiresWithKeys ? { pageExpiresWithKeys: true } : {}),
        }
      : {}),
  };
}
