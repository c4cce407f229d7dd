import type { Language } from "../../config/schema.ts";
import { shorten } from "../findings.ts";
import type { HistoryFinding, PolicyHistory, RunEntry } from "../history.ts";
import { LEVELS, type Level } from "../model.ts";
import { chartLegend, trendChart } from "./chart.ts";
import { contentSecurityPolicy, esc, safeHref } from "./html.ts";
import { PAGE_TEXT, type PageText } from "./text.ts";

/** What one results page shows: the policies' histories, read from the state store. */
export interface PageInput {
  histories: readonly PolicyHistory[];
  /** The config's time zone: every time on the page, the chart's axis included. */
  timezone: string;
  language: Language;
  generatedAt: Date;
  /** The window of runs shown, as written (`30d`), for the line a policy without runs shows. */
  since?: string;
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;margin:0 auto;max-width:1100px;padding:16px 20px 40px}
h1{font-size:22px;margin:4px 0}h2{font-size:19px;margin:28px 0 6px;padding-top:12px;border-top:2px solid #d0d7de}h3{font-size:15px;margin:18px 0 6px}
.meta,.note{color:#59636e;font-size:13px;margin:2px 0}nav a{margin-right:12px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}th,td{border-bottom:1px solid #e1e4e8;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f6f8fa;font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;white-space:nowrap}.t{white-space:nowrap;color:#59636e}
.sev{white-space:nowrap;font-weight:600}.l-extreme{color:#8e0d0d}.l-high{color:#d32f2f}.l-middle{color:#c46a00}.l-low{color:#8a7400}.l-info{color:#546e7a}.l-unknown{color:#616161}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;background:#eaeef2}.b-clear{background:#dafbe1;color:#116329}.b-risk{background:#ffebe9;color:#a40e26}.b-failed{background:#fff1c2;color:#7d4e00}
.clearbox{background:#dafbe1;color:#116329;border:1px solid #9be9a8;border-radius:6px;padding:10px 14px;font-size:16px;font-weight:600;margin:8px 0}
.chart{width:100%;height:auto}.chart text{font-size:11px;fill:#59636e}.grid{stroke:#eaeef2}.axis{stroke:#8c959f}.hit{fill:transparent}
.s-extreme{fill:#8e0d0d}.s-high{fill:#e5484d}.s-middle{fill:#f59e0b}.s-low{fill:#e9d34f}.s-info{fill:#94a3b8}.s-unknown{fill:#c4c4c4}.clear{fill:#1a7f37}.failed{fill:#6e7781}
.key{display:inline-flex;align-items:center;gap:4px;margin-right:14px;font-size:12px;color:#59636e}
ul.changes{margin:4px 0;padding-left:20px}.findings td:nth-child(3){white-space:nowrap}small{font-size:inherit;color:#59636e}.findings td[class^=l-]{font-weight:600;white-space:nowrap}`;

/** Times in the config's zone: `2026-11-29 11:00`, and the day alone. */
function timeFormats(zone: string): { time: (ms: number) => string; day: (ms: number) => string } {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const parts = (ms: number): Record<string, string> => Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, p.value]));
  return {
    time: (ms) => {
      const p = parts(ms);
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
    },
    day: (ms) => {
      const p = parts(ms);
      return `${p.year}-${p.month}-${p.day}`;
    },
  };
}

const rank = (l: Level): number => (l === "unknown" ? LEVELS.length : LEVELS.indexOf(l));

/** Most severe first, then one finding's rows together (name, CVE, fix), then by asset. */
function byFinding(a: HistoryFinding, b: HistoryFinding): number {
  return rank(a.level) - rank(b.level) || a.name.localeCompare(b.name) || (a.cve ?? "").localeCompare(b.cve ?? "") || (a.fix ?? "").localeCompare(b.fix ?? "") || a.asset.localeCompare(b.asset);
}

const sameFinding = (a: HistoryFinding, b: HistoryFinding): boolean => a.level === b.level && a.name === b.name && a.cve === b.cve && a.fix === b.fix;

function asset(f: Pick<HistoryFinding, "asset" | "assetName">): string {
  return f.assetName && f.assetName !== f.asset ? `${esc(f.asset)} <small>${esc(f.assetName)}</small>` : esc(f.asset);
}

/**
 * Fix text written in full, most severe first, before the rest is cut to `SHORT_FIX` characters: a
 * thousand different risks with long fix texts would otherwise double the page (the whole text is in
 * CSIP's console and the task's PDF report).
 */
const FIX_CHARS = 20_000;
const SHORT_FIX = 40;

/**
 * The findings table's share of a page: rows are written most severe first until it is spent, and the
 * rest are counted, with where they are (a thousand different risks with long names would otherwise pass
 * the page's 200 KB: bench/page.ts).
 */
const TABLE_BYTES = 150_000;

/**
 * The findings table: one row per finding, and the severity, name, CVE and fix of one risk written
 * once for all the assets that have it (rowspan), which keeps a thousand findings near 150 KB. End
 * tags that HTML lets go are left out for the same reason.
 */
function findingsTable(findings: readonly HistoryFinding[], t: PageText, day: (ms: number) => string): string {
  const sorted = [...findings].sort(byFinding);
  const c = t.columns;
  const rows: string[] = [];
  let fixChars = 0;
  let bytes = 0;
  let shown = 0;
  for (let i = 0; i < sorted.length; ) {
    let end = i + 1;
    while (end < sorted.length && sameFinding(sorted[i]!, sorted[end]!)) end++;
    const f = sorted[i]!;
    const span = end - i > 1 ? ` rowspan=${end - i}` : "";
    const fix = fixChars < FIX_CHARS ? (f.fix ?? "") : shorten(f.fix ?? "", SHORT_FIX);
    fixChars += fix.length;
    const group: string[] = [];
    for (let j = i; j < end; j++) {
      const g = sorted[j]!;
      const seen = `<td class=t>${g.firstSeen !== undefined ? day(g.firstSeen) : t.unknown}`;
      group.push(
        j === i
          ? `<tr><td class=l-${f.level}${span}>${esc(t.levels[f.level])}<td${span}>${esc(f.name)}<td${span}>${esc(f.cve ?? "")}<td${span}>${esc(fix)}<td>${asset(g)}${seen}`
          : `<tr><td>${asset(g)}${seen}`,
      );
    }
    bytes += group.reduce((n, row) => n + Buffer.byteLength(row) + 1, 0);
    if (bytes > TABLE_BYTES && shown > 0) break;
    rows.push(...group);
    shown = end;
    i = end;
  }
  const table = `<table class="findings"><thead><tr><th>${esc(c.level)}</th><th>${esc(c.name)}</th><th>${esc(c.cve)}</th><th>${esc(c.fix)}</th><th>${esc(c.asset)}</th><th>${esc(c.firstSeen)}</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
  return shown < sorted.length ? `${table}\n<p class="note">${esc(t.moreFindings(sorted.length - shown))}</p>` : table;
}

function changeList(items: readonly Pick<HistoryFinding, "asset" | "assetName" | "level" | "name">[], count: number, t: PageText): string {
  const li = items.map((f) => `<li><span class="sev l-${f.level}">${esc(t.levels[f.level])}</span> ${asset(f)}: ${esc(f.name)}</li>`);
  if (count > items.length) li.push(`<li>${esc(t.more(count - items.length))}</li>`);
  return `<ul class="changes">${li.join("")}</ul>`;
}

const BADGE: Record<string, string> = { "all clear": "b-clear", "risks found": "b-risk", failed: "b-failed", incomplete: "b-failed" };

/** A task's state in the page's language; a state this version does not know, as CSIP said it. */
function stateText(state: string, t: PageText): string {
  return Object.hasOwn(t.states, state) ? t.states[state as keyof PageText["states"]] : state;
}

function duration(seconds: number): string {
  return seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

function policySection(history: PolicyHistory, t: PageText, time: (ms: number) => string, day: (ms: number) => string, since: string | undefined): string {
  const id = `p-${history.policy.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const out: string[] = [`<section id="${esc(id)}"><h2>${esc(t.policy)} ${esc(history.policy)}</h2>`];
  const runs = history.runs;
  const last = runs.at(-1);
  if (!last) return `${out.join("")}<p>${esc(t.noRuns(since ?? ""))}</p></section>`;
  const at = (iso: string): string => time(Date.parse(iso));

  out.push(`<h3>${esc(t.trend(runs.length))}</h3>`, trendChart(runs, at, t), `<div>${chartLegend(t)}</div>`);

  out.push(`<h3>${esc(t.last)}: ${esc(at(last.scheduledTime))} <span class="badge ${BADGE[last.status]}">${esc(t.status[last.status])}</span></h3>`);
  const latest = history.latest?.run === last.run ? history.latest : null;
  if (last.status === "all clear") {
    const assets = latest?.tasks.reduce((n, task) => n + task.assetsScanned, 0) ?? 0;
    out.push(`<p class="clearbox">&#10003; ${esc(t.allClear(assets))}</p>`);
  }
  if (latest) {
    out.push(`<h3>${esc(t.tasks)}</h3>`);
    const tc = t.taskColumns;
    const taskRows = latest.tasks.map((task) => {
      const href = task.reportUrl ? safeHref(task.reportUrl) : undefined;
      const report = href ? `<a href="${esc(href)}" rel="noreferrer noopener">${esc(t.report)}</a>` : task.reportUrl ? esc(task.reportUrl) : esc(task.state === "done" ? t.noReport : t.unknown);
      return `<tr><td>${esc(task.taskId)}<td>${esc(stateText(task.state, t))}${task.error ? `: ${esc(task.error)}` : ""}<td class=n>${task.assetsScanned}/${task.assets}<td class=n>${task.riskCount}<td class=n>${task.durationSeconds !== undefined ? esc(duration(task.durationSeconds)) : t.unknown}<td>${report}`;
    });
    out.push(
      `<table><thead><tr><th>${esc(tc.task)}</th><th>${esc(tc.state)}</th><th class="n">${esc(tc.assets)}</th><th class="n">${esc(tc.risks)}</th><th class="n">${esc(tc.time)}</th><th>${esc(tc.report)}</th></tr></thead><tbody>${taskRows.join("")}</tbody></table>`,
    );
    if (last.newCount === null || last.goneCount === null) out.push(`<p class="note">${esc(t.notCompared)}</p>`);
    else if (last.newCount === 0 && last.goneCount === 0) out.push(`<p class="note">${esc(t.noChange)}</p>`);
    else {
      if (last.newCount > 0) out.push(`<h3>${esc(t.added(last.newCount))}</h3>`, changeList(latest.newFindings, last.newCount, t));
      if (last.goneCount > 0) out.push(`<h3>${esc(t.gone(last.goneCount))}</h3>`, changeList(latest.goneFindings, last.goneCount, t));
    }
    out.push(`<h3>${esc(t.findings(latest.findings.length, last.findingsTotal))}</h3>`);
    out.push(latest.findings.length > 0 ? findingsTable(latest.findings, t, day) : `<p>${esc(t.noFindings)}</p>`);
  }

  const rc = t.runColumns;
  const runRows = [...runs].reverse().map((r) => {
    return `<tr><td class=t>${esc(at(r.scheduledTime))}<td><span class="badge ${BADGE[r.status]}">${esc(t.status[r.status])}</span><td class=n>${riskCell(r, t)}<td class=n>${r.tasks}<td>${levelCounts(r, t)}<td class=n>${r.newCount ?? t.unknown}<td class=n>${r.goneCount ?? t.unknown}`;
  });
  out.push(
    `<h3>${esc(t.runs)}</h3><table><thead><tr><th>${esc(rc.time)}</th><th>${esc(rc.status)}</th><th class="n">${esc(rc.risks)}</th><th class="n">${esc(rc.tasks)}</th><th>${esc(rc.findings)}</th><th class="n">${esc(rc.added)}</th><th class="n">${esc(rc.gone)}</th></tr></thead><tbody>${runRows.join("")}</tbody></table>`,
    `<p class="note">${esc(t.runsNote)}</p>`,
  );
  out.push(...changesPart(history, t, at, day));
  return `${out.join("\n")}</section>`;
}

/** A run's current findings by severity, most severe first. */
function levelCounts(r: RunEntry, t: PageText): string {
  return LEVELS.filter((l) => (r.byLevel[l] ?? 0) > 0).map((l) => `<span class="l-${l}">${esc(t.levels[l])} ${r.byLevel[l]}</span>`).join(" ") || "0";
}

/**
 * What a run's tasks counted: a failed or unfinished run's tasks did not all count, and the cell says so,
 * so that 0 beside current findings does not read as a contradiction.
 */
function riskCell(r: RunEntry, t: PageText): string {
  return r.status === "failed" || r.status === "incomplete" ? `${r.riskCount} <small>${esc(t.finishedOnly)}</small>` : String(r.riskCount);
}

/** The asset-change runs, apart from the trend: a table of the last ones and the newest one's findings. */
function changesPart(history: PolicyHistory, t: PageText, at: (iso: string) => string, day: (ms: number) => string): string[] {
  const changes = history.changes ?? [];
  if (changes.length === 0) return [];
  const cc = t.changeColumns;
  const rows = [...changes].reverse().map(
    (r) => `<tr><td class=t>${esc(at(r.scheduledTime))}<td><span class="badge ${BADGE[r.status]}">${esc(t.status[r.status])}</span><td class=n>${r.assetsScanned ?? t.unknown}<td class=n>${riskCell(r, t)}<td>${levelCounts(r, t)}`,
  );
  const out = [
    `<h3>${esc(t.changes(changes.length))}</h3><p class="note">${esc(t.changesNote)}</p>`,
    `<table><thead><tr><th>${esc(cc.time)}</th><th>${esc(cc.status)}</th><th class="n">${esc(cc.assets)}</th><th class="n">${esc(cc.risks)}</th><th>${esc(cc.findings)}</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
  ];
  const latest = history.latestChange;
  const last = changes.at(-1);
  if (latest && last && latest.run === last.run && latest.findings.length > 0) {
    out.push(`<h3>${esc(t.latestChange(latest.findings.length, last.findingsTotal))}</h3>`, findingsTable(latest.findings, t, day));
  }
  return out;
}

/**
 * One self-contained HTML page of the policies' results: no script, and nothing loaded from
 * anywhere (styles inline, charts inline SVG), so it works from a file, offline, and from a private
 * bucket through a presigned link. `no-referrer` keeps that link out of the report hosts' logs.
 */
export function resultsPage(input: PageInput): string {
  const t = PAGE_TEXT[input.language];
  const { time, day } = timeFormats(input.timezone);
  const nav = input.histories.length > 1 ? `<nav>${input.histories.map((h) => `<a href="#p-${esc(h.policy.replace(/[^A-Za-z0-9_-]/g, "_"))}">${esc(h.policy)}</a>`).join("")}</nav>` : "";
  return `<!DOCTYPE html>
<html lang="${t.lang}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(STYLE)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(t.title)}${input.histories.length === 1 ? `: ${esc(input.histories[0]!.policy)}` : ""}</title>
<style>${STYLE}</style></head><body>
<h1>${esc(t.title)}</h1>
<p class="meta">${esc(t.generated(time(input.generatedAt.getTime()), input.timezone))}</p>
<p class="note">${esc(t.note)}</p>
${nav}
${input.histories.map((h) => policySection(h, t, time, day, input.since)).join("\n")}
</body></html>
`;
}
