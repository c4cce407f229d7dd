import { describe, expect, it } from "vitest";
import { CHAT_CHANNELS } from "../../../shared/notify/channels.ts";
import { resultsMessage, splitMessage } from "../../../shared/notify/message.ts";
import { FINDINGS_NOTE, type ResultsReport } from "../../../shared/notify/results-report.ts";

const REPORT: ResultsReport = {
  schema: "csip-scan.results/v1",
  policy: "nightly_prod",
  trigger: "timer",
  scheduledTime: "2026-11-29T19:00:00.000Z",
  status: "risks found",
  riskCount: 3,
  tasks: [
    { taskId: "rmis-0a1b2c3d", taskName: "csip-scan:nightly_prod:20261129T190000Z:1", status: "done", assets: 4, assetsScanned: 4, riskCount: 3, durationSeconds: 540, reportUrl: "https://csip-report-1300616671.cos.ap-guangzhou.myqcloud.com/rpt-1.pdf?sign=abc" },
    { taskId: "rmis-1b2c3d4e", taskName: "csip-scan:nightly_prod:20261129T190000Z:2", status: "failed", assets: 1, assetsScanned: 0, riskCount: 0, error: "agent offline" },
  ],
  findings: [
    { id: "r1", kind: "weakPassword", asset: "ins-9c4e7v1b", assetName: "web_gz_03", level: "extreme", name: "weak password (ssh)", fix: "Set a strong password." },
    { id: "r2", kind: "vul", asset: "ins-9c4e7v1b", level: "high", name: "Curl authentication bypass", cve: "CVE-2023-27536" },
  ],
  findingsTotal: 3,
  previous: { scheduledTime: "2026-11-28T19:00:00.000Z", riskCount: 1 },
  riskCountChange: 2,
  newFindings: [{ id: "r1", kind: "weakPassword", asset: "ins-9c4e7v1b", level: "extreme", name: "weak password (ssh)" }],
  newFindingsCount: 1,
  goneFindings: [],
  goneFindingsCount: 0,
  stillRunning: [],
  note: FINDINGS_NOTE,
};

const render = (type: keyof typeof CHAT_CHANNELS): string =>
  CHAT_CHANNELS[type].render(resultsMessage(REPORT, "en"), { type, url: "https://example.test/hook", language: "en" }, new Date(0)).body;

describe("the results message", () => {
  it("says the status, the change, each task with its report, the worst findings and what is new", () => {
    const lines = resultsMessage(REPORT, "en").lines.map((l) => l.pieces.map((p) => (typeof p === "string" ? p : "value" in p ? p.value : `[${p.label}](${p.link})`)).join(""));
    expect(lines).toEqual([
      "Scheduled for 2026-11-29 19:00 (UTC)",
      "Risks found: 3.",
      "+2 since the previous run, 2026-11-28 19:00 (UTC).",
      "Tasks:",
      "rmis-0a1b2c3d done, 4/4 assets scanned, 3 risks, 9 min, [report](https://csip-report-1300616671.cos.ap-guangzhou.myqcloud.com/rpt-1.pdf?sign=abc)",
      "rmis-1b2c3d4e failed, 0/1 assets scanned, 0 risks: agent offline",
      "Worst current findings (2 of 3):",
      "extreme ins-9c4e7v1b (web_gz_03): weak password (ssh) Fix: Set a strong password.",
      "high ins-9c4e7v1b: Curl authentication bypass CVE-2023-27536",
      "New since the previous run (1):",
      "extreme ins-9c4e7v1b: weak password (ssh)",
      "Findings are the scanned assets' current risks in CSIP (the risk lists do not filter by task).",
    ]);
  });

  it("speaks Chinese to a zh notifier, in the policy file's time zone: task states and levels as the console names them", () => {
    const lines = resultsMessage(REPORT, "zh", "Asia/Shanghai").lines.map((l) => l.pieces.map((p) => (typeof p === "string" ? p : "value" in p ? p.value : `[${p.label}]`)).join(""));
    expect(lines.slice(0, 6)).toEqual([
      "计划时间 2026-11-30 03:00 (Asia/Shanghai)",
      "发现风险：3 个。",
      "与上次运行 2026-11-29 03:00 (Asia/Shanghai) 相比 +2。",
      "任务：",
      "rmis-0a1b2c3d 已完成，已扫描 4/4 个资产，风险 3 个，用时 9 min，[报告]",
      "rmis-1b2c3d4e 失败，已扫描 0/1 个资产，风险 0 个: agent offline",
    ]);
    expect(lines).toContain("严重 ins-9c4e7v1b (web_gz_03): weak password (ssh) 修复建议： Set a strong password.");
  });

  it("renders the report as a link in each channel's markup, and names as inert text", () => {
    const wecom = JSON.parse(render("wecom")) as { markdown: { content: string } };
    expect(wecom.markdown.content).toContain("[report](https://csip-report-1300616671.cos.ap-guangzhou.myqcloud.com/rpt-1.pdf?sign=abc)");
    expect(wecom.markdown.content).toContain("web＿gz＿03");
    const slack = JSON.parse(render("slack")) as { text: string };
    expect(slack.text).toContain("<https://csip-report-1300616671.cos.ap-guangzhou.myqcloud.com/rpt-1.pdf?sign=abc|report>");
    expect(render("feishu")).toContain("https://csip-report-1300616671.cos.ap-guangzhou.myqcloud.com/rpt-1.pdf?sign=abc");
  });

  it("a link that is not a plain URL is shown as text, never as markup", () => {
    const hostile = { ...REPORT, tasks: [{ ...REPORT.tasks[0]!, reportUrl: "https://evil.example/x) [click](https://phish.example" }] };
    const content = (JSON.parse(CHAT_CHANNELS.wecom.render(resultsMessage(hostile, "en"), { type: "wecom", url: "https://example.test/hook", language: "en" }, new Date(0)).body) as { markdown: { content: string } }).markdown.content;
    expect(content).not.toContain("](https://phish.example");
    expect(content).toContain("［click］");
  });

  it("all clear says so in one line", () => {
    const clear: ResultsReport = { ...REPORT, status: "all clear", riskCount: 0, tasks: [{ ...REPORT.tasks[0]!, riskCount: 0 }], findings: [], findingsTotal: 0, previous: null, riskCountChange: null, newFindings: [], newFindingsCount: 0 };
    const lines = resultsMessage(clear, "en").lines;
    expect(lines[1]!.pieces).toEqual(["All clear: 4 assets scanned, no risk found."]);
    expect(lines.map((l) => l.kind)).toEqual(["text", "text", "heading", "item"]);
  });

  it("in Chinese too, and split to fit WeCom like every message", () => {
    const many = { ...REPORT, findings: Array.from({ length: 50 }, (_, i) => ({ ...REPORT.findings[0]!, id: `r${i}`, name: `finding ${i} ${"x".repeat(100)}` })) };
    const parts = splitMessage(resultsMessage(many, "zh"), (m) => CHAT_CHANNELS.wecom.fits(m, { type: "wecom", url: "https://example.test/hook", language: "zh" }));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts[0]!.title.map((p) => (typeof p === "string" ? p : "value" in p ? p.value : p.label)).join("")).toBe(`csip-scan：策略 nightly_prod 的扫描结果 (1/${parts.length})`);
  });
});
