import { riskListOf, type RiskKind } from "../csip/actions.ts";
import { memberParam, type CsipClient } from "../csip/client.ts";
import { ignoredFilterWarning, readFiltered, readPages } from "../csip/pager.ts";
import { LEVELS, type Finding, type Level } from "./model.ts";
import { csipTimeMs } from "./task-states.ts";

type Row = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** AssetViewPortRisk's Suggestion: what CSIP advises about an open port. */
const PORT_ADVICE: Record<number, string> = { 0: "keep as it is", 1: "restrict access", 2: "close the port" };

/**
 * The per-asset risk lists, one row each: how a row of the list reads as a finding. The lists give the
 * assets' current risks (they do not filter by task): messages say so.
 */
const RISK_KINDS: Record<RiskKind, { name(row: Row): string; fix(row: Row): string; cve?(row: Row): string }> = {
  vul: { name: (r) => str(r.VULName) || str(r.CVE) || "vulnerability", fix: (r) => str(r.Fix), cve: (r) => str(r.CVE) },
  port: {
    name: (r) => `open port ${str(r.Port)}${str(r.Protocol) ? `/${str(r.Protocol)}` : ""}${str(r.Service) || str(r.Component) ? ` (${str(r.Service) || str(r.Component)})` : ""}`,
    fix: (r) => (typeof r.Suggestion === "number" ? (PORT_ADVICE[r.Suggestion] ?? "") : ""),
  },
  weakPassword: {
    name: (r) => `weak password${str(r.PasswordType) ? ` (${str(r.PasswordType)})` : ""}${str(r.Service) || str(r.Component) ? ` on ${str(r.Service) || str(r.Component)}` : ""}`,
    fix: (r) => str(r.Fix),
  },
  config: { name: (r) => str(r.CFGName) || "configuration risk", fix: (r) => str(r.CFGFix) },
};

export const RISK_KIND_NAMES = Object.keys(RISK_KINDS) as RiskKind[];

/** The fix text, on one line and at most `max` characters. */
export function shorten(text: string, max = 140): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}

function levelOf(value: unknown): Level {
  return (LEVELS as readonly string[]).includes(str(value)) ? (str(value) as Level) : "unknown";
}

/** Most severe first; then by asset and name, so the order is stable. */
export function bySeverity(a: Finding, b: Finding): number {
  const rank = (l: Level): number => (l === "unknown" ? LEVELS.length : LEVELS.indexOf(l));
  return rank(a.level) - rank(b.level) || a.asset.localeCompare(b.asset) || a.name.localeCompare(b.name);
}

/** A typed-in URL's host: what the risk lists name as the affected asset. */
function hostOf(value: string): string {
  try {
    return value.includes("://") ? new URL(value).hostname : value;
  } catch {
    return value;
  }
}

/** Values per filtered call. */
const VALUES_PER_CALL = 50;

/**
 * The risk-list field each scanned asset is read back by, exact (undocumented names, from the official
 * example rows): an inventory asset by `InstanceId`, a typed-in address or domain by `AffectAsset`.
 */
export const RISK_FILTERS = { assets: "InstanceId", typedIn: "AffectAsset" } as const;
/** Pages read at most of one risk list: 50,000 rows of each kind of risk. */
export const RISK_PAGE_CAP = 500;

/** What reading the current findings found. */
export interface CurrentFindings {
  /** Every finding read, most severe first. */
  findings: Finding[];
  /** How many current findings there are: the lists' TotalCount for a whole read, else the rows that matched. */
  total: number;
  calls: number;
  /** Set when a list was longer than its cap, saying which and how much was read. */
  capped?: string;
  /** One per action whose filter the server ignored. */
  warnings: string[];
}

/**
 * The current risks of the scanned assets, each risk list read to its end: filtered to the assets
 * (`InstanceId` for CVMs and databases, `AffectAsset` for addresses and domains, as the official
 * example rows name them; the filter names are undocumented, so rows are matched here and a list that
 * ignores the filter is read whole), or read whole for a scan of every asset. Rows become findings as
 * pages arrive; nothing keeps the answers. Every finding, most severe first, and the total.
 */
export async function currentFindings(
  csip: CsipClient,
  scope: { assets: readonly string[]; typedIn: readonly string[]; everything: boolean },
  memberIds?: readonly string[],
  limits: { maxPages: number; pageSize?: number } = { maxPages: RISK_PAGE_CAP },
): Promise<CurrentFindings> {
  const found = new Map<string, Finding>();
  let calls = 0;
  let total = 0;
  const capped: string[] = [];
  const warnings: string[] = [];
  const keep = (kind: RiskKind, row: Row): void => {
    const table = RISK_KINDS[kind];
    const asset = str(row.AffectAsset) || str(row.InstanceId);
    const id = str(row.Id) || `${kind}:${asset}:${table.name(row)}`;
    const cve = table.cve?.(row);
    const fix = table.fix(row);
    const firstSeen = csipTimeMs(str(row.FirstTime));
    found.set(id, {
      id,
      kind,
      asset,
      ...(str(row.InstanceName) ? { assetName: str(row.InstanceName) } : {}),
      level: levelOf(row.Level),
      name: table.name(row),
      ...(cve ? { cve } : {}),
      ...(fix ? { fix: shorten(fix) } : {}),
      ...(firstSeen !== undefined ? { firstSeen } : {}),
    });
  };
  for (const kind of RISK_KIND_NAMES) {
    const action = riskListOf(kind);
    if (scope.everything) {
      const read = await readPages({ csip, action, request: { ...memberParam(memberIds) }, limits, onPage: (rows) => rows.forEach((row) => keep(kind, row)) });
      calls += read.calls;
      total += read.total;
      if (read.capped) capped.push(`${action}: ${read.rows} of ${read.total}`);
      continue;
    }
    const before = found.size;
    for (const [field, values] of [[RISK_FILTERS.assets, scope.assets], [RISK_FILTERS.typedIn, scope.typedIn.map(hostOf)]] as const) {
      if (values.length === 0) continue;
      const read = await readFiltered({ csip, action, request: { ...memberParam(memberIds) }, field, values, batch: VALUES_PER_CALL, limits });
      calls += read.calls;
      for (const row of read.rows) keep(kind, row);
      if (read.capped) capped.push(`${action} by ${field}: the first ${limits.maxPages} pages`);
      if (read.ignored) warnings.push(ignoredFilterWarning(action, field));
    }
    total += found.size - before;
  }
  return {
    findings: [...found.values()].sort(bySeverity),
    total,
    calls,
    ...(capped.length > 0 ? { capped: `only part of the current findings was read (${capped.join("; ")})` } : {}),
    warnings,
  };
}
