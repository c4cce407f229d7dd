import { riskListOf, type RiskKind } from "../csip/actions.ts";
import { memberParam, type CsipClient } from "../csip/client.ts";
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

/** Values per filtered call, and pages read at most of one list. */
const VALUES_PER_CALL = 50;
const MAX_PAGES = 20;

/**
 * The current risks of the scanned assets: each risk list, filtered to the assets (Filter `InstanceId`,
 * or `AffectAsset` for typed-in addresses: assumptions, and the rows are checked here), or read whole for
 * a scan of every asset (at most 20 pages). Every finding, most severe first.
 */
export async function currentFindings(
  csip: CsipClient,
  scope: { assets: readonly string[]; typedIn: readonly string[]; everything: boolean },
  memberIds?: readonly string[],
): Promise<{ findings: Finding[]; calls: number }> {
  const found = new Map<string, Finding>();
  let calls = 0;
  const read = async (kind: RiskKind, filter: { Name: string; Values: string[] } | undefined, page: number): Promise<Row[]> => {
    calls++;
    const answer = await csip.call(riskListOf(kind), {
      ...memberParam(memberIds),
      Filter: { Limit: 100, Offset: page * 100, ...(filter ? { Filters: [{ ...filter, OperatorType: 7 }] } : {}) },
    });
    return (answer.Data ?? []) as Row[];
  };
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
    if (scope.everything) {
      for (let page = 0; page < MAX_PAGES; page++) {
        const rows = await read(kind, undefined, page);
        for (const row of rows) keep(kind, row);
        if (rows.length < 100) break;
      }
      continue;
    }
    for (const [field, values] of [["InstanceId", scope.assets], ["AffectAsset", scope.typedIn.map(hostOf)]] as const) {
      for (let i = 0; i < values.length; i += VALUES_PER_CALL) {
        const batch = values.slice(i, i + VALUES_PER_CALL);
        for (let page = 0; page < MAX_PAGES; page++) {
          const rows = await read(kind, { Name: field, Values: batch }, page);
          for (const row of rows) if (batch.includes(str(row[field]))) keep(kind, row);
          if (rows.length < 100) break;
        }
      }
    }
  }
  return { findings: [...found.values()].sort(bySeverity), calls };
}
