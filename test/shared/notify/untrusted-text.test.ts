import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notifier } from "../../../shared/config/schema.ts";
import { credentialsFrom } from "../../../shared/csip/credentials.ts";
import { networkDelivery } from "../../../shared/notify/deliver.ts";
import { outsideText } from "../../../shared/notify/outside-text.ts";
import { resultsReport } from "../../../shared/notify/results-report.ts";
import type { RunResults, TaskResult } from "../../../shared/results/model.ts";
import { envOf, startListener } from "../../helpers.ts";

// What CSIP returns reaches people's chats: a failed task's ErrorInfo, risk names, fix text. An answer
// may echo anything, the process's own secret key included; each channel must still carry one safe message.

const SECRET_KEY = "untrusted-text-secret-key-0123456789";
credentialsFrom(envOf({ TENCENTCLOUD_SECRETID: "AKIDuntrustedtextid0001", TENCENTCLOUD_SECRETKEY: SECRET_KEY }));

const ERROR_INFO = `scan failed: key ${SECRET_KEY}\n\u202Egnp.exe ${"x".repeat(50_000)}`;
const MARKUP = "*bold* `code` <https://evil.example|click> <!channel> [text](https://evil.example) **b** @all";

function task(extra: Partial<TaskResult>): TaskResult {
  return { taskId: "rmis-0a1b2c3d", taskName: "csip-scan:nightly-prod:20261129T190000Z:1", state: "failed", ended: true, assets: 2, assetsScanned: 0, riskCount: 0, scope: { assets: ["ins-1"], typedIn: [], everything: false }, ...extra };
}

const RESULTS: RunResults = {
  policy: "nightly-prod",
  trigger: "timer",
  scheduledTime: "2026-11-29T19:00:00.000Z",
  run: "run",
  tasks: [task({ error: ERROR_INFO }), task({ taskId: "rmis-1b2c3d4e", state: "done", assetsScanned: 2, riskCount: 1 })],
  ended: true,
  gaveUp: false,
  missing: [],
  duplicatesRemoved: [],
  riskCount: 1,
  allClear: false,
  findings: [{ id: "r1", kind: "vul", asset: "ins-1", assetName: MARKUP, level: "high", name: `${MARKUP} ${"漏".repeat(100_000)}`, fix: `set password=${SECRET_KEY} ${"y".repeat(10_000)}` }],
  findingsTotal: 1,
  comparison: { previous: undefined, riskCountChange: undefined, newFindings: [], goneFindings: [] },
};

let listener: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  listener = await startListener(() => ({ status: 200, body: listener.received.at(-1)?.url.startsWith("/slack") ? "ok" : '{"errcode":0,"code":0}' }));
});
afterAll(() => listener.close());

const CHANNELS: [Notifier["type"], string, (body: string) => string][] = [
  ["wecom", "/cgi-bin/webhook/send?key=k", (b) => (JSON.parse(b) as { markdown: { content: string } }).markdown.content],
  ["dingtalk", "/robot/send?access_token=t", (b) => (JSON.parse(b) as { markdown: { text: string } }).markdown.text],
  ["feishu", "/open-apis/bot/v2/hook/h", (b) => b],
  ["slack", "/slack/services/T/B/x", (b) => (JSON.parse(b) as { text: string }).text],
  ["webhook", "/hook", (b) => b],
];

describe("what CSIP returns, in each channel's results message", () => {
  it.each(CHANNELS)("%s: a failed task with a 50,000-character ErrorInfo holding the secret key is one message, no secret, Beijing time", async (type, path, shown) => {
    listener.received.length = 0;
    const deliver = networkDelivery({ allowLocal: true, timeZone: "Asia/Shanghai" });
    const result = await deliver("ops", { type, url: `${listener.url.replace("/hook", "")}${path}`, language: "zh" }, resultsReport(RESULTS));
    expect(result).toMatchObject({ delivered: true, parts: 1 });
    expect(listener.received).toHaveLength(1);
    const body = listener.received[0]!.body;
    expect(body).not.toContain(SECRET_KEY);
    expect(body).not.toContain("\u202E");
    expect(body).not.toContain("x".repeat(300));
    expect(body.length).toBeLessThan(6000);
    expect(shown(body)).toContain("2026-11-30 03:00 (Asia/Shanghai)");
  });

  it("slack: markup, links and mentions from CSIP are text", async () => {
    listener.received.length = 0;
    await networkDelivery({ allowLocal: true })("ops", { type: "slack", url: `${listener.url.replace("/hook", "")}/slack/x`, language: "en" }, resultsReport(RESULTS));
    const text = (JSON.parse(listener.received[0]!.body) as { text: string }).text;
    const finding = text.split("\n").find((l) => l.includes("ins-1"))!;
    expect(finding).toContain("&lt;!channel&gt;");
    expect(finding).toContain("&lt;https://evil.example|click&gt;");
    for (const markup of ["*bold*", "`code`", "[text](", "**b**", "@all", "<!channel>", "<https://evil"]) expect(finding).not.toContain(markup);
  });
});

describe("outsideText", () => {
  it.each([
    ["a Tencent SecretId", "denied for AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "denied for AKID***"],
    ["a key=value pair", "url https://x.example/cb?token=abcdef123456&x=1", "url https://x.example/cb?token=***&x=1"],
    ["a prefixed key", 'config {"api_key": "k-0011223344", "SecretKey":"abcdefgh"}', 'config {"api_key": "***", "SecretKey":"***"}'],
    ["a word ending in key, kept", "monkey=bananas1234", "monkey=bananas1234"],
    ["a bearer token", "header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "header Authorization: Bearer ***"],
    ["a long random run", "sig Zk3q9XbT2mN8vR4wY7pL1cH6jF0dS5aE done", "sig *** done"],
    ["a UUID (a RequestId), kept", "RequestId 6d1f5c1e-2b8e-4c1a-9f0e-1234567890ab", "RequestId 6d1f5c1e-2b8e-4c1a-9f0e-1234567890ab"],
    ["ordinary words, kept", "the host did not answer; csip-scan retried", "the host did not answer; csip-scan retried"],
    ["controls and direction changes, dropped", "a\u0000b\u202Ec\u2066d\nnext\tline", "abcd next line"],
  ])("%s", (_, input, expected) => {
    expect(outsideText(input)).toBe(expected);
  });

  it("scrubs the whole text before it shortens it: a secret across the 300-character cut leaves none of its characters", () => {
    const filler = "the scan engine said ".repeat(13);
    // The secret starts at character 290 and ends past 300.
    const text = `${filler}${"x".repeat(290 - filler.length - 6)} with ${SECRET_KEY} and more after it`;
    // Cut first, the text would end in the secret's first characters, which no longer read as the secret.
    expect(text.indexOf(SECRET_KEY)).toBeLessThan(300);
    expect(text.indexOf(SECRET_KEY) + SECRET_KEY.length).toBeGreaterThan(300);
    const out = outsideText(text);
    expect(Array.from(out).length).toBeLessThanOrEqual(300);
    expect(out).not.toContain(SECRET_KEY.slice(0, 4));
    expect(out).toContain(" with ***");
  });

  it.each([
    ["a zero-width space", "\u200B"],
    ["a zero-width joiner", "\u200D"],
    ["a byte-order mark", "\uFEFF"],
    ["a soft hyphen", "\u00AD"],
  ])("finds a secret with %s inside it: the invisible character is dropped first", (_, invisible) => {
    const hidden = `${SECRET_KEY.slice(0, 12)}${invisible}${SECRET_KEY.slice(12)}`;
    const out = outsideText(`scan failed: key ${hidden}`);
    expect(out).toBe("scan failed: key ***");
  });

  it("shortens to the limit at character boundaries, marking the cut", () => {
    const out = outsideText("😀".repeat(500), 120);
    expect(Array.from(out)).toHaveLength(120);
    expect(out.endsWith("😀…")).toBe(true);
  });
});
