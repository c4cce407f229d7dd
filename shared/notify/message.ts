import { localTime } from "../time-format.ts";
import type { Language } from "../config/schema.ts";
import { OUTSIDE_LIMITS, outsideText } from "./outside-text.ts";
import type { RunReport } from "./report.ts";
import type { ReportedFinding, ResultsReport } from "./results-report.ts";
import type { ResultsStatus } from "../results/model.ts";
import type { TaskState } from "../scan/task-status.ts";

/**
 * What a chat message says, before a channel renders it: a title and lines. Every value that comes
 * from outside (asset names, IDs, error texts) stays a separate `value` so that each channel can
 * neutralise it for its own markup.
 */
export type Piece = string | { value: string } | { link: string; label: string };

/** A piece's text as it reads without markup. */
export function pieceText(p: Piece): string {
  return typeof p === "string" ? p : "value" in p ? p.value : p.link;
}
export interface MessageLine {
  /** "heading" starts a section; "item" is a list entry; "text" is a plain line. */
  kind: "heading" | "item" | "text";
  pieces: Piece[];
}
export interface Message {
  title: Piece[];
  lines: MessageLine[];
  /** Where the lines a message cannot hold really are, in the message's language. */
  rest?: string;
}

/** A value from CSIP (an error, a fix): scrubbed, visible, one line of at most 300 characters. */
const said = (text: string): Piece => ({ value: outsideText(text, OUTSIDE_LIMITS.line) });
/** A name from CSIP (a risk, an asset): scrubbed, visible, at most 120 characters. */
const named = (text: string): Piece => ({ value: outsideText(text, OUTSIDE_LIMITS.name) });


/** The fixed text of messages, per language. */
const TEXT = {
  en: {
    title: (policy: string) => ["csip-scan: policy ", { value: policy }],
    scheduled: "Scheduled for",
    status: { ok: "Status: ok", failed: "Status: FAILED" },
    unauthorized: (n: number) => `Not authorized, so CSIP will not scan them (${n}):`,
    member: "member",
    what: "What to do:",
    howTo:
      "Authorize them in the Cloud Security Center console (Asset Center), or complete the ownership verification of domains and public IPs there; the next run scans them.",
    tasks: (n: number) => `Scan tasks created: ${n}`,
    failures: "Failures:",
    warnings: "Warnings:",
    test: "Test message from csip-scan: this notifier works.",
    rest: "the run summary in the function's log has them all.",
    notShown: (n: number, rest: string) => `… ${n} more lines not shown; ${rest}`,
  },
  zh: {
    title: (policy: string) => ["csip-scan：策略 ", { value: policy }],
    scheduled: "计划时间",
    status: { ok: "状态：成功", failed: "状态：失败" },
    unauthorized: (n: number) => `以下资产未授权，云安全中心不会扫描（${n} 个）：`,
    member: "成员账号",
    what: "处理方法：",
    howTo: "请在云安全中心控制台（资产中心）授权这些资产；域名和公网 IP 请在控制台完成归属认证。下次运行时会扫描它们。",
    tasks: (n: number) => `已创建扫描任务：${n} 个`,
    failures: "失败：",
    warnings: "警告：",
    test: "csip-scan 测试消息：此通知渠道可用。",
    rest: "函数日志中的运行摘要列有全部内容。",
    notShown: (n: number, rest: string) => `… 另有 ${n} 行未显示；${rest}`,
  },
} as const;

/** The chat message for a run report. */
export function runMessage(report: RunReport, language: Language, timeZone = "UTC"): Message {
  const t = TEXT[language];
  const lines: MessageLine[] = [
    { kind: "text", pieces: [`${t.scheduled} ${localTime(report.scheduledTime, timeZone)}`] },
    { kind: "text", pieces: [t.status[report.status]] },
  ];
  if (report.unauthorizedAssets.length > 0) {
    lines.push({ kind: "heading", pieces: [t.unauthorized(report.unauthorizedAssets.length)] });
    for (const a of report.unauthorizedAssets) {
      const pieces: Piece[] = [`${a.kind} `, named(a.id)];
      if (a.name !== a.id) pieces.push(" (", named(a.name), ")");
      if (a.region) pieces.push(", ", { value: a.region });
      if (a.memberId) pieces.push(`, ${t.member} `, { value: a.memberId });
      lines.push({ kind: "item", pieces });
    }
    lines.push({ kind: "heading", pieces: [t.what] }, { kind: "text", pieces: [t.howTo] });
  }
  if (report.tasks.length > 0) {
    lines.push({ kind: "text", pieces: [t.tasks(report.tasks.length), " (", { value: report.tasks.map((x) => x.taskId).join(", ") }, ")"] });
  }
  if (report.errors.length > 0) {
    lines.push({ kind: "heading", pieces: [t.failures] });
    for (const e of report.errors) lines.push({ kind: "item", pieces: [said(e.message)] });
  }
  if (report.warnings.length > 0) {
    lines.push({ kind: "heading", pieces: [t.warnings] });
    for (const w of report.warnings) lines.push({ kind: "item", pieces: [said(w)] });
  }
  return { title: [...t.title(report.policy)], lines, rest: t.rest };
}

/** The message `notify-test` sends. */
export function testMessage(language: Language): Message {
  return { title: ["csip-scan"], lines: [{ kind: "text", pieces: [TEXT[language].test] }] };
}

/**
 * Splits a message into parts whose rendered size `fits`: on line boundaries, and a line too long
 * for any part on UTF-8 character boundaries. Nothing is dropped silently: past `maxParts`, the last
 * part says how many lines are not shown.
 */
export function splitMessage(message: Message, fits: (m: Message) => boolean, maxParts = 10, language: Language = "en"): Message[] {
  if (fits(message)) return [message];
  const label = (i: number, n: number): Piece[] => [...message.title, ` (${i}/${n})`];
  const probe = label(maxParts, maxParts);
  const alone = (line: MessageLine): boolean => fits({ title: probe, lines: [line] });
  const lines = message.lines.flatMap((line) => (alone(line) ? [line] : breakLine(line, alone)));

  const parts: MessageLine[][] = [[]];
  for (const line of lines) {
    const current = parts[parts.length - 1]!;
    if (current.length > 0 && !fits({ title: probe, lines: [...current, line] })) parts.push([line]);
    else current.push(line);
  }
  if (parts.length > maxParts) {
    const kept = parts.slice(0, maxParts);
    const last = kept[maxParts - 1]!;
    let hidden = parts.slice(maxParts).reduce((n, p) => n + p.length, 0);
    const t = TEXT[language];
    const note = (): MessageLine => ({ kind: "text", pieces: [t.notShown(hidden, message.rest ?? t.rest)] });
    // The note must fit too: lines give way to it, down to a part that holds the note alone.
    while (last.length > 0 && !fits({ title: probe, lines: [...last, note()] })) {
      last.pop();
      hidden++;
    }
    last.push(note());
    return kept.map((partLines, i) => ({ title: label(i + 1, maxParts), lines: partLines }));
  }
  return parts.map((partLines, i) => ({ title: label(i + 1, parts.length), lines: partLines }));
}

/** A line cut into lines that each fit, at code point (so UTF-8 character) boundaries. */
function breakLine(line: MessageLine, alone: (line: MessageLine) => boolean): MessageLine[] {
  const chars = Array.from(line.pieces.map(pieceText).join(""));
  const piece = (from: number, to: number): MessageLine => ({ kind: line.kind, pieces: [{ value: chars.slice(from, to).join("") }] });
  const out: MessageLine[] = [];
  for (let start = 0; start < chars.length; ) {
    let lo = 1;
    let hi = chars.length - start;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (alone(piece(start, start + mid))) lo = mid;
      else hi = mid - 1;
    }
    out.push(piece(start, start + lo));
    start += lo;
  }
  return out;
}

/** The fixed text of results messages, per language. */
const RESULTS_TEXT = {
  en: {
    title: (policy: string): Piece[] => ["csip-scan: results of policy ", { value: policy }],
    scheduled: "Scheduled for",
    status: {
      "all clear": (r: ResultsReport) => `All clear: ${assetsOf(r)} assets scanned, no risk found.`,
      "risks found": (r: ResultsReport) => `Risks found: ${r.riskCount}.`,
      failed: (r: ResultsReport) => `Not every task finished: ${r.riskCount} risks found by those that did.`,
      incomplete: (r: ResultsReport) => `Still running after the time allowed: ${r.stillRunning.length} task(s); ${r.riskCount} risks found so far.`,
    } satisfies Record<ResultsStatus, (r: ResultsReport) => string>,
    change: (change: number, previous: string) => (change === 0 ? `No change since the previous run, ${previous}.` : `${change > 0 ? "+" : ""}${change} since the previous run, ${previous}.`),
    tasks: "Tasks:",
    task: (t: ResultsReport["tasks"][number]) =>
      `${t.status}, ${t.assetsScanned}/${t.assets} assets scanned, ${t.riskCount} risks${t.durationSeconds !== undefined ? `, ${duration(t.durationSeconds)}` : ""}`,
    report: "report",
    noReport: "no report yet",
    comma: ", ",
    worst: (shown: number, total: number) => `Worst current findings (${shown} of ${total}):`,
    fix: "Fix:",
    added: (n: number) => `New since the previous run (${n}):`,
    gone: (n: number) => `Gone since the previous run (${n}):`,
    more: (n: number) => `… and ${n} more`,
    note: "Findings are the scanned assets' current risks in CSIP (the risk lists do not filter by task).",
    pageOpens: {
      page: { label: "Results page: the trend and every current finding", note: "" },
      download: {
        label: "Results page, which your browser downloads as a file",
        note: "COS's own domain serves the page as a download: open the downloaded file in a browser.",
      },
      file: { label: "Results page, a file on the machine that ran csip-scan", note: "" },
    },
    validUntil: (at: string) => `The link works until ${at}.`,
    /** Between two sentences. */
    gap: " ",
    expiresWithKeys: (at: string) =>
      `The link works until ${at} at most, and stops sooner when the function's temporary keys expire (2 to 12 hours after they were issued).`,
    missing: { "report links": "Not known, the lookup kept failing: the report links", findings: "Not known, the lookup kept failing: the current findings" },
    duplicate: (kept: string, removed: string): Piece[] => [`: a create landed late; kept the oldest, `, { value: kept }, `, stopped and deleted `, { value: removed }],
    rest: "every finding is in the Cloud Security Center console's risk lists and in each task's report; `csip-scan results --json` lists the run.",
    capped: "Not every finding was read: ",
  },
  zh: {
    title: (policy: string): Piece[] => ["csip-scan：策略 ", { value: policy }, " 的扫描结果"],
    scheduled: "计划时间",
    status: {
      "all clear": (r: ResultsReport) => `一切正常：已扫描 ${assetsOf(r)} 个资产，未发现风险。`,
      "risks found": (r: ResultsReport) => `发现风险：${r.riskCount} 个。`,
      failed: (r: ResultsReport) => `部分任务未完成：已完成的任务发现风险 ${r.riskCount} 个。`,
      incomplete: (r: ResultsReport) => `超过等待时间仍在运行：${r.stillRunning.length} 个任务；目前发现风险 ${r.riskCount} 个。`,
    } satisfies Record<ResultsStatus, (r: ResultsReport) => string>,
    change: (change: number, previous: string) => (change === 0 ? `与上次运行 ${previous} 相比没有变化。` : `与上次运行 ${previous} 相比 ${change > 0 ? "+" : ""}${change}。`),
    tasks: "任务：",
    task: (t: ResultsReport["tasks"][number]) =>
      `${(TASK_STATES_ZH as Record<string, string>)[t.status] ?? t.status}，已扫描 ${t.assetsScanned}/${t.assets} 个资产，风险 ${t.riskCount} 个${t.durationSeconds !== undefined ? `，用时 ${duration(t.durationSeconds)}` : ""}`,
    report: "报告",
    noReport: "报告尚未生成",
    comma: "，",
    worst: (shown: number, total: number) => `最严重的当前风险（${shown}/${total}）：`,
    fix: "修复建议：",
    added: (n: number) => `较上次新增（${n}）：`,
    gone: (n: number) => `较上次消失（${n}）：`,
    more: (n: number) => `… 另有 ${n} 个`,
    note: "风险为被扫描资产在云安全中心的当前风险（风险列表不按任务筛选）。",
    pageOpens: {
      page: { label: "结果页面：趋势与全部当前风险", note: "" },
      download: { label: "结果页面（浏览器会将其作为文件下载）", note: "COS 默认域名以下载方式提供该页面：请用浏览器打开下载的文件。" },
      file: { label: "结果页面（运行 csip-scan 的机器上的文件）", note: "" },
    },
    validUntil: (at: string) => `链接有效期至 ${at}。`,
    gap: "",
    expiresWithKeys: (at: string) => `链接最长有效至 ${at}；函数的临时密钥过期时（签发后 2 至 12 小时）会提前失效。`,
    missing: { "report links": "查询一直失败，未能获取：报告链接", findings: "查询一直失败，未能获取：当前风险" },
    duplicate: (kept: string, removed: string): Piece[] => ["：创建请求延迟生效，保留最早的 ", { value: kept }, "，已停止并删除 ", { value: removed }],
    rest: "全部风险见云安全中心控制台的风险列表和各任务的报告；`csip-scan results --json` 列出本次运行。",
    capped: "未读取全部风险：",
  },
} as const;

/** A task's state as a Chinese reader reads it (shared/scan/task-status.ts names the states). */
const TASK_STATES_ZH: Record<TaskState, string> = { waiting: "等待中", scanning: "扫描中", done: "已完成", failed: "失败", stopped: "已停止", paused: "已暂停", restarted: "已重启", "not found": "未找到" };

function assetsOf(r: ResultsReport): number {
  return r.tasks.reduce((n, t) => n + t.assetsScanned, 0);
}

function duration(seconds: number): string {
  return seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

/** CSIP's risk levels as the console names them in Chinese. */
const LEVELS_ZH: Record<string, string> = { extreme: "严重", high: "高危", middle: "中危", low: "低危", info: "提示", unknown: "未知" };

function levelIn(language: Language, level: string): string {
  return language === "zh" ? (LEVELS_ZH[level] ?? level) : level;
}

function findingPieces(f: ReportedFinding, language: Language, fixLabel?: string): Piece[] {
  const pieces: Piece[] = [`${levelIn(language, f.level)} `, named(f.asset)];
  if (f.assetName && f.assetName !== f.asset) pieces.push(" (", named(f.assetName), ")");
  pieces.push(": ", named(f.name));
  if (f.cve && !f.name.includes(f.cve)) pieces.push(" ", named(f.cve));
  if (fixLabel && f.fix) pieces.push(` ${fixLabel} `, said(f.fix));
  return pieces;
}

/**
 * The link to the results page, and what a click on it gives, in the message's words: a page, a file the
 * browser downloads, or a file on the machine that ran csip-scan; and until when it works. A report
 * stored before links said how they open reads as a page link, as it was sent then.
 */
function pageLines(report: ResultsReport, t: (typeof RESULTS_TEXT)[Language], timeZone: string): MessageLine[] {
  const opens = t.pageOpens[report.pageOpens ?? "page"];
  const notes: string[] = [];
  if (opens.note) notes.push(opens.note);
  if (report.pageValidUntil) {
    const at = localTime(report.pageValidUntil, timeZone);
    notes.push(report.pageExpiresWithKeys ? t.expiresWithKeys(at) : t.validUntil(at));
  }
  return [{ kind: "text", pieces: [{ link: report.page!, label: opens.label }] }, ...(notes.length > 0 ? [{ kind: "text" as const, pieces: [notes.join(t.gap)] }] : [])];
}

/** The chat message for a results report: status, tasks, the worst findings, the change since the last run. */
export function resultsMessage(report: ResultsReport, language: Language, timeZone = "UTC"): Message {
  const t = RESULTS_TEXT[language];
  const lines: MessageLine[] = [
    { kind: "text", pieces: [`${t.scheduled} ${localTime(report.scheduledTime, timeZone)}`] },
    { kind: "text", pieces: [t.status[report.status](report)] },
  ];
  if (report.previous && report.riskCountChange !== null) lines.push({ kind: "text", pieces: [t.change(report.riskCountChange, localTime(report.previous.scheduledTime, timeZone))] });
  if (report.page) lines.push(...pageLines(report, t, timeZone));
  lines.push({ kind: "heading", pieces: [t.tasks] });
  for (const task of report.tasks) {
    const pieces: Piece[] = [named(task.taskId), ` ${t.task(task)}`];
    if (task.error) pieces.push(": ", said(task.error));
    if (task.reportUrl) pieces.push(t.comma, { link: task.reportUrl, label: t.report });
    else if (task.status === "done") pieces.push(`${t.comma}${t.noReport}`);
    lines.push({ kind: "item", pieces });
  }
  if (report.findings.length > 0) {
    lines.push({ kind: "heading", pieces: [t.worst(report.findings.length, report.findingsTotal)] });
    for (const f of report.findings) lines.push({ kind: "item", pieces: findingPieces(f, language, t.fix) });
  }
  const listChanges = (heading: string, count: number, items: Piece[][]): void => {
    if (count === 0) return;
    lines.push({ kind: "heading", pieces: [heading] });
    for (const pieces of items) lines.push({ kind: "item", pieces });
    if (count > items.length) lines.push({ kind: "text", pieces: [t.more(count - items.length)] });
  };
  listChanges(t.added(report.newFindingsCount), report.newFindingsCount, report.newFindings.map((f) => findingPieces(f, language)));
  listChanges(t.gone(report.goneFindingsCount), report.goneFindingsCount, report.goneFindings.map((f) => [`${levelIn(language, f.level)} `, named(f.asset), ": ", named(f.name)]));
  for (const m of report.missing ?? []) lines.push({ kind: "text", pieces: [`${t.missing[m.part]} (`, said(m.reason), ")"] });
  for (const d of report.duplicatesRemoved ?? []) lines.push({ kind: "text", pieces: [named(d.taskName), ...t.duplicate(d.kept, d.removed.join(", "))] });
  if (report.findingsTotal > 0) lines.push({ kind: "text", pieces: [t.note] });
  if (report.findingsCapped) lines.push({ kind: "text", pieces: [t.capped, said(report.findingsCapped)] });
  return { title: t.title(report.policy), lines, rest: t.rest };
}
