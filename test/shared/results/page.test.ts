import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FINDINGS_KEPT, readHistory, recordRun, withRun, type PolicyHistory } from "../../../shared/results/history.ts";
import { esc } from "../../../shared/results/page/html.ts";
import { resultsPage } from "../../../shared/results/page/render.ts";
import { FileStateStore } from "../../../shared/state/store.ts";
import { finding, HOSTILE, results, task } from "./page-fixtures.ts";

const EMPTY: PolicyHistory = { policy: "nightly", runs: [], latest: null };
const day = (d: number): string => `2026-11-${String(d).padStart(2, "0")}T19:00:00.000Z`;
const page = (histories: PolicyHistory[], over: { timezone?: string; language?: "zh" | "en" } = {}): string =>
  resultsPage({ histories, timezone: over.timezone ?? "Asia/Shanghai", language: over.language ?? "en", generatedAt: new Date("2026-11-30T00:00:00Z"), since: "30d" });

describe("the page's size", () => {
  it("a thousand different risks with long names and fix texts: at most 200 KB, the most severe shown, the rest counted with where they are", () => {
    const fix = "升级到厂商发布的最新安全版本，并在升级前备份配置；无法立即升级时，限制该端口只对可信地址开放，并开启访问日志以便排查。";
    const many = Array.from({ length: 1000 }, (_, i) =>
      finding(`risk-${i}`, { level: i < 10 ? "extreme" : "low", name: `Example component ${i} remote code execution (CVE-2024-${10000 + i})`, cve: `CVE-2024-${10000 + i}`, fix, asset: `ins-${String(i).padStart(8, "0")}` }),
    );
    const html = page([withRun(EMPTY, results(day(1), many), many, 30)], { language: "zh" });
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(200 * 1024);
    const shown = [...html.matchAll(/<tr><td class=l-/g)].length;
    expect(shown).toBeGreaterThan(100);
    expect(shown).toBeLessThan(1000);
    expect(html).toContain("Example component 0 remote");
    expect(html).toContain(`另有 ${1000 - shown} 个较低等级的风险，为控制页面大小未列出：全部风险见云安全中心控制台的风险列表和各任务的报告。`);
  });
});

describe("results history", () => {
  it("keeps the last `limit` runs, oldest first, and a retried look replaces its run instead of adding one", () => {
    let h = EMPTY;
    for (let d = 1; d <= 5; d++) h = withRun(h, results(day(d), [finding("a")]), [finding("a")], 3);
    expect(h.runs.map((r) => r.scheduledTime)).toEqual([day(3), day(4), day(5)]);
    h = withRun(h, results(day(5), [finding("a"), finding("b")]), [finding("a"), finding("b")], 3);
    expect(h.runs.map((r) => [r.scheduledTime, r.findingsTotal])).toEqual([
      [day(3), 1],
      [day(4), 1],
      [day(5), 2],
    ]);
  });

  it("counts the findings by severity, and keeps the newest run's findings, at most FINDINGS_KEPT, most severe first", () => {
    const many = Array.from({ length: FINDINGS_KEPT + 5 }, (_, i) => finding(`f${i}`, { level: i === FINDINGS_KEPT + 4 ? "extreme" : "low" }));
    const h = withRun(EMPTY, results(day(1), many), many, 30);
    expect(h.runs[0]!.byLevel).toEqual({ low: FINDINGS_KEPT + 4, extreme: 1 });
    expect(h.runs[0]!.findingsTotal).toBe(FINDINGS_KEPT + 5);
    expect(h.latest!.findings).toHaveLength(FINDINGS_KEPT);
    expect(h.latest!.findings[0]!.level).toBe("extreme");
  });

  it("a late-told older run is a point of the trend but does not replace the newest run's findings", () => {
    let h = withRun(EMPTY, results(day(2), [finding("new")]), [finding("new")], 30);
    h = withRun(h, results(day(1), [finding("old")]), [finding("old")], 30);
    expect(h.runs.map((r) => r.scheduledTime)).toEqual([day(1), day(2)]);
    expect(h.latest!.findings.map((f) => f.id)).toEqual(["new"]);
  });

  it("first seen: the run that first had it, carried run to run; CSIP's FirstTime when earlier; new again after it went", () => {
    const csipEarlier = Date.parse("2026-10-01T00:00:00Z");
    let h = withRun(EMPTY, results(day(1), [finding("a")]), [finding("a")], 30);
    h = withRun(h, results(day(2), [finding("a"), finding("b", { firstSeen: csipEarlier })], { previous: [finding("a")] }), [finding("a"), finding("b", { firstSeen: csipEarlier })], 30);
    const seen = (hh: PolicyHistory) => Object.fromEntries(hh.latest!.findings.map((f) => [f.id, f.firstSeen]));
    expect(seen(h)).toEqual({ a: Date.parse(day(1)), b: csipEarlier });
    h = withRun(h, results(day(3), [finding("b")]), [finding("b")], 30);
    h = withRun(h, results(day(4), [finding("a"), finding("b")]), [finding("a"), finding("b")], 30);
    expect(seen(h)).toEqual({ a: Date.parse(day(4)), b: csipEarlier });
  });

  it.each([
    ["kept all its findings (exactly FINDINGS_KEPT)", FINDINGS_KEPT, Date.parse(day(2))],
    ["had more than it kept (FINDINGS_KEPT + 1)", FINDINGS_KEPT + 1, undefined],
  ])("first seen of a finding the last run did not keep, when the last run %s: this run, else unknown", (_, count, expected) => {
    const before = Array.from({ length: count }, (_, i) => finding(`f${i}`, { level: "low" }));
    const h = withRun(withRun(EMPTY, results(day(1), before), before, 30), results(day(2), [finding("f0", { level: "low" }), finding("new", { level: "low" })]), [finding("f0", { level: "low" }), finding("new", { level: "low" })], 30);
    const seen = Object.fromEntries(h.latest!.findings.map((f) => [f.id, f.firstSeen]));
    expect(seen).toEqual({ f0: Date.parse(day(1)), new: expected });
  });

  it("is stored per policy and read back; two runs of one policy recorded at once both stay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-history-"));
    try {
      const store = new FileStateStore(dir);
      await Promise.all([recordRun(store, results(day(1), [finding("a")]), [finding("a")], 30), recordRun(store, results(day(2), []), [], 30)]);
      expect((await readHistory(store, "nightly")).runs.map((r) => r.scheduledTime)).toEqual([day(1), day(2)]);
      expect(await readHistory(store, "other")).toEqual({ policy: "other", runs: [], latest: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("results page", () => {
  const three = (): PolicyHistory => {
    const first = [finding("a", { level: "middle" }), finding("gone", { level: "low", name: "old risk" })];
    const last = [finding("a", { level: "middle" }), finding("x", { level: "extreme", name: "Log4j RCE", cve: "CVE-2021-44228", fix: "Upgrade log4j." }), finding("i", { level: "info", asset: "ins-00000002" })];
    let h = withRun(EMPTY, results(day(27), first), first, 30);
    h = withRun(h, results(day(28), [], { tasks: [task({ riskCount: 0 })] }), [], 30);
    return withRun(h, results(day(29), last, { previous: first }), last, 30);
  };

  it("draws the trend as inline SVG: one path per severity, a mark under the all-clear run, times in the config's zone", () => {
    const html = page([three()]);
    const chart = /<svg class="chart"[\s\S]*?<\/svg>/.exec(html)![0];
    expect([...chart.matchAll(/<path class="s-(\w+)" d="M/g)].map((m) => m[1])).toEqual(["extreme", "middle", "low", "info"]);
    expect(chart.match(/<circle class="clear"/g)).toHaveLength(1);
    // 19:00 UTC is 03:00 the next day in Shanghai.
    expect(chart).toContain(">2026-11-28 03:00<");
    expect(page([three()], { timezone: "UTC" })).toContain(">2026-11-27 19:00<");
  });

  it("lists the last run's findings most severe first with asset, name, CVE, fix and first seen; what is new and gone; tasks with report links", () => {
    const html = page([three()]);
    const table = /<table class="findings">[\s\S]*?<\/table>/.exec(html)![0];
    expect([...table.matchAll(/<tr><td class=l-(\w+)/g)].map((m) => m[1])).toEqual(["extreme", "middle", "info"]);
    expect(table).toContain("<td class=l-extreme>critical<td>Log4j RCE<td>CVE-2021-44228<td>Upgrade log4j.<td>ins-00000001 <small>web-1</small><td class=t>2026-11-30");
    expect(html).toMatch(/New since the run before \(2\)[\s\S]*Log4j RCE[\s\S]*finding i<\/li>/);
    expect(html).toMatch(/Gone since the run before \(1\)[\s\S]*old risk<\/li>/);
    expect(html).toContain('<a href="https://csip-report.example.test/r/1.pdf?q-sign-time=1;2" rel="noreferrer noopener">PDF report</a>');
    expect(html).toContain('<span class="badge b-clear">All clear</span>');
  });

  it("shows an all-clear last run as such, and a policy without runs says so", () => {
    const clear = withRun(EMPTY, results(day(1), [], { tasks: [task({ riskCount: 0, assetsScanned: 7 })] }), [], 30);
    expect(page([clear])).toContain('<p class="clearbox">&#10003; All clear: 7 asset(s) scanned, no risk found.</p>');
    expect(page([EMPTY])).toContain("No run of this policy was told in the last 30d.");
  });

  it("one risk on many assets is written once (rowspan), so the page stays small", () => {
    const same = Array.from({ length: 3 }, (_, i) => finding(`s${i}`, { asset: `ins-0000000${i}`, name: "same", fix: "the same long fix text" }));
    const html = page([withRun(EMPTY, results(day(1), same), same, 30)]);
    expect(html.match(/the same long fix text/g)).toHaveLength(1);
    expect(html).toContain("<td rowspan=3>same");
  });

  it("reads true: a run whose tasks did not all finish says its risk count is the finished tasks', and a note tells the two numbers apart", () => {
    const high = [finding("h1"), finding("h2"), finding("h3"), finding("m", { level: "middle" }), finding("l", { level: "low" })];
    const failed = results(day(24), high, { tasks: [task({ state: "failed", riskCount: 0, assetsScanned: 0, error: "host did not answer" })] });
    const html = page([withRun(EMPTY, failed, high, 30)]);
    const runs = /<h3>Runs<\/h3><table>[\s\S]*?<\/table>/.exec(html)![0];
    expect(runs).toContain("<th class=\"n\">Risks the tasks counted</th>");
    expect(runs).toContain("<th>Current findings on the scanned assets</th>");
    expect(runs).toMatch(/Not every task finished<\/span><td class=n>0 <small>\(finished tasks only\)<\/small><td class=n>1<td><span class="l-high">high 3<\/span> <span class="l-middle">medium 1<\/span> <span class="l-low">low 1<\/span>/);
    expect(html).toContain("Risks the tasks counted: CSIP&#39;s count of the run&#39;s own tasks; a task that failed or did not finish counts none. Current findings:");
    const zh = page([withRun(EMPTY, failed, high, 30)], { language: "zh" });
    expect(zh).toContain("0 <small>（仅已完成的任务）</small>");
    expect(zh).toContain("两个数字的统计方式不同。");
  });

  it("asset-change runs are kept beside the trend, not in it: their own table and the last one's findings; the last scheduled run keeps its place", () => {
    const changed = [finding("c1", { asset: "ins-new00001", name: "exposed redis" })];
    const change = { ...results("2026-11-29T22:15:00.000Z", changed, { tasks: [task({ riskCount: 1, assetsScanned: 1 })] }), trigger: "asset-change" as const, run: "run/csip-scan:nightly:evt-0123456789abcdef" };
    const h = withRun(three(), change, changed, 30);
    expect(h.runs).toHaveLength(3);
    expect(h.latest!.run).toBe(three().latest!.run);
    expect(h.changes!.map((r) => [r.trigger, r.assetsScanned, r.findingsTotal])).toEqual([["asset-change", 1, 1]]);
    expect(withRun(h, change, changed, 30).changes).toHaveLength(1);
    const html = page([h]);
    const chart = /<svg class="chart"[\s\S]*?<\/svg>/.exec(html)![0];
    expect(chart).not.toContain("2026-11-30 06:15");
    expect(html).toContain("<h3>Scans when assets changed (last 1)</h3>");
    expect(html).toMatch(/<td class=t>2026-11-30 06:15<td><span class="badge b-risk">Risks found<\/span><td class=n>1<td class=n>1<td><span class="l-high">high 1<\/span>/);
    expect(html).toMatch(/Current findings on the assets of the last one \(1\)<\/h3>\n<table class="findings">[\s\S]*exposed redis/);
    // The last scheduled run's findings are still the page's "Current findings".
    expect(html).toMatch(/<h3>Current findings \(3\)<\/h3>/);
  });

  it("in Chinese", () => {
    const html = page([three()], { language: "zh" });
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain("<td class=l-extreme>严重");
    expect(html).toContain("较上次新增（2）");
  });

  it("loads nothing and runs nothing: a CSP forbids every load and every script, and allows only its own style by hash", () => {
    const html = page([three()]);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(csp).toBe(`default-src 'none'; style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'; img-src 'none'; base-uri 'none'; form-action 'none'`);
    expect(html.indexOf("Content-Security-Policy")).toBeLessThan(html.indexOf("<style>"));
    expect(html).not.toMatch(/<script|\bsrc=|@import|url\(/i);
  });
});

describe("results page with hostile values from CSIP", () => {
  // Every value CSIP returns goes into the page: finding names, assets, asset names, CVE, fix text,
  // task IDs, task errors and report links.
  const hostileHistory = (): PolicyHistory => {
    const findings = HOSTILE.map((text, i) => finding(`h${i}`, { name: text, asset: text, assetName: text, cve: text, fix: text, level: "high" }));
    const tasks = HOSTILE.map((text, i) => task({ taskId: text, state: "failed", error: text, reportUrl: i % 2 ? "javascript:alert(1)" : text }));
    const first = withRun(EMPTY, results(day(1), [finding("gone", { name: HOSTILE[0], asset: HOSTILE[1] })]), [finding("gone", { name: HOSTILE[0], asset: HOSTILE[1] })], 30);
    return withRun(first, results(day(2), findings, { tasks, previous: [finding("gone", { name: HOSTILE[0], asset: HOSTILE[1] })] }), findings, 30);
  };

  it("writes no element, attribute or link of theirs: only the page's own tags, and every hostile text escaped", () => {
    const html = page([hostileHistory()]);
    const tags = new Set([...html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!.toLowerCase()));
    const own = ["html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "section", "svg", "line", "text", "path", "circle", "rect", "div", "span", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "small", "a", "nav"];
    expect([...tags].filter((t) => !own.includes(t))).toEqual([]);
    // The only links are the page's own anchors: a hostile report link is text.
    expect([...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])).toEqual([]);
    // No event handler in any real tag (a hostile `<` is always escaped, so every `<` here opens the page's own).
    expect([...html.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]).filter((tag) => /\son\w+\s*=|javascript:/i.test(tag))).toEqual([]);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("&amp;lt;already escaped&amp;gt; &#39; &quot; `");
    expect(html.match(/<style>/g)).toHaveLength(1);
  });

  it.each([
    ["data:", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="],
    ["file:", "file:///etc/passwd"],
    ["ftp:", "ftp://csip-report.example.test/r/1.pdf"],
    ["javascript:", "javascript:alert(1)"],
    ["vbscript:", "vbscript:msgbox(1)"],
    ["a relative path", "/r/1.pdf"],
  ])("a %s report link is shown as text, not a link", (_, url) => {
    const h = withRun(EMPTY, results(day(1), [], { tasks: [task({ reportUrl: url })] }), [], 30);
    const html = page([h]);
    expect([...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])).toEqual([]);
    expect(html).toContain(esc(url));
  });

  it.each([["https://csip-report.example.test/r/1.pdf"], ["http://127.0.0.1:8080/reports/rpt-1.pdf"]])("an http(s) report link %s is a link", (url) => {
    const h = withRun(EMPTY, results(day(1), [], { tasks: [task({ reportUrl: url })] }), [], 30);
    expect([...page([h]).matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])).toEqual([url]);
  });

  it("the policy name and time zone are escaped too", () => {
    const html = page([{ ...hostileHistory(), policy: HOSTILE[0] }], { timezone: "UTC" });
    expect(html).not.toContain("<script>");
  });
});
