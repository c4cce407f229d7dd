import { describe, expect, it } from "vitest";
import { CHAT_CHANNELS } from "../../../shared/notify/channels.ts";
import { pieceText, resultsMessage, splitMessage, type Message, type MessageLine } from "../../../shared/notify/message.ts";
import { FINDINGS_NOTE, type ResultsReport } from "../../../shared/notify/results-report.ts";

const textOf = (line: MessageLine): string => line.pieces.map(pieceText).join("");
const titleOf = (message: Message): string => textOf({ kind: "text", pieces: message.title });

function messageOf(count: number): Message {
  return { title: ["report"], lines: Array.from({ length: count }, (_, i) => ({ kind: "item", pieces: [`line ${i + 1}`] })) };
}

/** A channel that takes at most `n` lines a message. */
const atMost = (n: number) => (m: Message) => m.lines.length <= n;

const NOTE = /^… (\d+) more lines not shown; the run summary in the function's log has them all\.$/;

describe("splitMessage", () => {
  it("a message that fits is one part, unchanged", () => {
    const message = messageOf(3);
    expect(splitMessage(message, atMost(3))).toEqual([message]);
  });

  it("in fewer than 10 parts, nothing is lost: every line once, in order, titled (i/n)", () => {
    const message = messageOf(7);
    const parts = splitMessage(message, atMost(3));
    expect(parts.map(titleOf)).toEqual(["report (1/3)", "report (2/3)", "report (3/3)"]);
    expect(parts.map((p) => p.lines.length)).toEqual([3, 3, 1]);
    expect(parts.flatMap((p) => p.lines)).toEqual(message.lines);
  });

  it("past 10 parts: exactly 10, the last says how many lines are not shown, and every line is shown or counted", () => {
    const message = messageOf(40);
    const parts = splitMessage(message, atMost(3));
    expect(parts).toHaveLength(10);
    expect(parts.map(titleOf)).toEqual(Array.from({ length: 10 }, (_, i) => `report (${i + 1}/10)`));
    for (const part of parts) expect(atMost(3)(part)).toBe(true);

    // Ten parts of three lines hold 30; the note takes the place of one, so 29 are shown and 11 are not.
    const last = parts[9]!.lines;
    expect(textOf(last[last.length - 1]!)).toBe("… 11 more lines not shown; the run summary in the function's log has them all.");
    const shown = parts.flatMap((p) => p.lines).filter((line) => !NOTE.test(textOf(line)));
    expect(shown).toEqual(message.lines.slice(0, 29));
    expect(shown.length + 11).toBe(message.lines.length);
  });

  it.each([
    ["en", /^… \d+ more lines not shown; every finding is in the Cloud Security Center console's risk lists and in each task's report; `csip-scan results --json` lists the run\.$/],
    ["zh", /^… 另有 \d+ 行未显示；全部风险见云安全中心控制台的风险列表和各任务的报告；`csip-scan results --json` 列出本次运行。$/],
  ] as const)("a results message past 10 parts (%s) says where the rest really is: not the function's log, which does not hold findings", (language, note) => {
    const finding = (i: number) => ({ id: `r${i}`, kind: "vul" as const, asset: `ins-${i}`, level: "high" as const, name: `risk ${i}` });
    const report: ResultsReport = {
      schema: "csip-scan.results/v1", policy: "p", trigger: "timer", scheduledTime: "2026-11-29T19:00:00.000Z", status: "risks found", riskCount: 40,
      tasks: [], findings: Array.from({ length: 40 }, (_, i) => finding(i)), findingsTotal: 40, previous: null, riskCountChange: null,
      newFindings: [], newFindingsCount: 0, goneFindings: [], goneFindingsCount: 0, stillRunning: [], note: FINDINGS_NOTE,
    };
    const parts = splitMessage(resultsMessage(report, language), atMost(3), 10, language);
    const last = parts[9]!.lines;
    expect(textOf(last[last.length - 1]!)).toMatch(note);
  });

  it("past 10 parts whose last holds one line that fills it: the note takes its place, and every part still fits", () => {
    const message = messageOf(20);
    const parts = splitMessage(message, atMost(1));
    expect(parts).toHaveLength(10);
    for (const part of parts) expect(atMost(1)(part)).toBe(true);
    expect(parts.map((p) => textOf(p.lines[0]!))).toEqual([
      ...message.lines.slice(0, 9).map(textOf),
      "… 11 more lines not shown; the run summary in the function's log has them all.",
    ]);
  });

  it("past 10 parts of one line cut to fill each part (WeCom, 4096 bytes): every part still fits", () => {
    const message: Message = { title: ["csip-scan"], lines: [{ kind: "item", pieces: [{ value: "错".repeat(20_000) }] }] };
    const wecom = (m: Message): boolean => CHAT_CHANNELS.wecom.fits(m, { type: "wecom", url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", language: "en" });
    const parts = splitMessage(message, wecom);
    expect(parts).toHaveLength(10);
    for (const part of parts) expect(wecom(part)).toBe(true);
    const last = parts[9]!.lines;
    expect(textOf(last[last.length - 1]!)).toMatch(NOTE);
  });

  it("past 10 parts of a real channel (WeCom, 4096 bytes): 10 parts that fit, and the hidden count closes the sum", () => {
    const message: Message = {
      title: ["csip-scan: policy ", { value: "nightly-prod" }],
      lines: Array.from({ length: 1500 }, (_, i) => ({ kind: "item", pieces: ["cvm ", { value: `ins-${String(i).padStart(8, "0")}` }, " (", { value: `华南生产环境网站服务器-${i}` }, ")"] })),
    };
    const wecom = (m: Message): boolean => CHAT_CHANNELS.wecom.fits(m, { type: "wecom", url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", language: "en" });
    const parts = splitMessage(message, wecom);
    expect(parts).toHaveLength(10);
    expect(parts.map(titleOf)).toEqual(Array.from({ length: 10 }, (_, i) => `csip-scan: policy nightly-prod (${i + 1}/10)`));
    for (const part of parts) expect(wecom(part)).toBe(true);

    const lines = parts.flatMap((p) => p.lines);
    const note = NOTE.exec(textOf(lines[lines.length - 1]!));
    expect(note).not.toBeNull();
    const shown = lines.slice(0, -1);
    expect(shown).toEqual(message.lines.slice(0, shown.length));
    expect(shown.length + Number(note![1])).toBe(1500);
  });
});
