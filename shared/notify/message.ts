import type { RunReport } from "./report.ts";

/**
 * What a chat message says, before a channel renders it: a title and lines. Every value that comes
 * from outside (asset names, IDs, error texts) stays a separate `value` so that each channel can
 * neutralise it for its own markup.
 */
export type Piece = string | { value: string };
export interface MessageLine {
  /** "heading" starts a section; "item" is a list entry; "text" is a plain line. */
  kind: "heading" | "item" | "text";
  pieces: Piece[];
}
export interface Message {
  title: Piece[];
  lines: MessageLine[];
}

export type Language = "zh" | "en";

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
  },
} as const;

/** The chat message for a run report. */
export function runMessage(report: RunReport, language: Language): Message {
  const t = TEXT[language];
  const lines: MessageLine[] = [
    { kind: "text", pieces: [`${t.scheduled} ${report.scheduledTime}`] },
    { kind: "text", pieces: [t.status[report.status]] },
  ];
  if (report.unauthorizedAssets.length > 0) {
    lines.push({ kind: "heading", pieces: [t.unauthorized(report.unauthorizedAssets.length)] });
    for (const a of report.unauthorizedAssets) {
      const pieces: Piece[] = [`${a.kind} `, { value: a.id }];
      if (a.name !== a.id) pieces.push(" (", { value: a.name }, ")");
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
    for (const e of report.errors) lines.push({ kind: "item", pieces: [{ value: e.requestId ? `${e.message}` : e.message }] });
  }
  if (report.warnings.length > 0) {
    lines.push({ kind: "heading", pieces: [t.warnings] });
    for (const w of report.warnings) lines.push({ kind: "item", pieces: [{ value: w }] });
  }
  return { title: [...t.title(report.policy)], lines };
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
export function splitMessage(message: Message, fits: (m: Message) => boolean, maxParts = 10): Message[] {
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
    const note = (): MessageLine => ({ kind: "text", pieces: [`… ${hidden} more lines not shown; the run summary in the function's log has them all.`] });
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
  const chars = Array.from(line.pieces.map((p) => (typeof p === "string" ? p : p.value)).join(""));
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
