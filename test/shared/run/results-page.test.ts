import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../../functions/asset-change/index.ts";
import { scanResultsHandler } from "../../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../../functions/scheduled-scan/index.ts";
import { silentLogger } from "../../../shared/log.ts";
import { CHAT_CHANNELS } from "../../../shared/notify/channels.ts";
import { resultsMessage } from "../../../shared/notify/message.ts";
import type { ResultsReport } from "../../../shared/notify/results-report.ts";
import { presignedLinker } from "../../../shared/results/page-link.ts";
import { cosPagePublisher, folderPagePublisher, type PageBucket, type PagePublisher } from "../../../shared/results/publish.ts";
import type { EstateAssetInput } from "../../../local/emulator/estate.ts";
import type { Emulator } from "../../../local/emulator/server.ts";
import runInstances from "../../fixtures/events/eventbridge-run-instances.json" with { type: "json" };
import { clockAt, startListener, useHandlerWorld } from "../../helpers.ts";

// The results page of a policy, end to end: a scheduled run makes tasks, the emulator runs them, and
// scan-results adds the run to the policy's history, publishes its page and links it in the message.

const ESTATE: EstateAssetInput[] = [
  {
    kind: "cvm",
    id: "ins-page0001",
    name: "web-1",
    tags: { team: "web" },
    risks: [
      { kind: "vul", level: "high", name: "Curl authentication bypass", cve: "CVE-2023-27536", fix: "Upgrade curl to 8.0.1 or later." },
      { kind: "port", level: "middle", name: "redis", port: 6379 },
    ],
  },
];

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-results-page-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;

function world(pages: PagePublisher, language = "en", extra = "") {
  const n = ++count;
  const file = join(dir, `p${n}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: Asia/Shanghai
state: { path: ${join(dir, `state-${n}`)} }
results: { checkEvery: 10m, giveUpAfter: 24h, history: 2, pageLinkValidFor: 2d }
notifiers:
  hook: { type: webhook, url: ${hook.url}, language: ${language} }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port, poc], notify: [hook], notifyOn: [failure, results]${extra} }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return async (day: string) => {
    await scheduledScanHandler({ logger: silentLogger(), clock: clockAt(`2026-11-${day}T03:00:05Z`) })({ Type: "Timer", TriggerName: "nightly", Time: `2026-11-${day}T03:00:00Z` }, {});
    return scanResultsHandler({ logger: silentLogger(), clock: clockAt(`2026-11-${day}T03:10:00Z`), pages })({ Type: "Timer", TriggerName: "csip-scan-results", Time: `2026-11-${day}T03:10:00Z` }, {});
  };
}

const told = (): ResultsReport[] => hook.received.map((r) => JSON.parse(r.body) as ResultsReport).filter((b) => b.schema === "csip-scan.results/v1");

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ emulator, hook } = w));

describe("the results page after each told run", () => {
  it("local mode: the page is a file under the state folder, the message and the summary link it, it shows the run", async () => {
    const pages = join(dir, "pages-local");
    const night = world(folderPagePublisher(pages));
    const summary = await night("28");
    const [report] = told();
    expect(report!.page).toBe(summary.told[0]!.page);
    const file = fileURLToPath(report!.page!);
    expect(file).toBe(join(pages, "nightly.html"));
    const html = readFileSync(file, "utf8");
    expect(html).toContain("<h2>Policy nightly</h2>");
    expect(html).toContain("<td>Curl authentication bypass<td>CVE-2023-27536<td>Upgrade curl to 8.0.1 or later.<td>ins-page0001 <small>web-1</small>");
    expect(html).toContain(">2026-11-28 03:00<");
  });

  it("the history keeps the last `results.history` runs and the page shows what changed", async () => {
    const pages = join(dir, "pages-history");
    const night = world(folderPagePublisher(pages), "zh");
    const web = emulator.state.estate[0]!;
    const all = web.risks;
    try {
      await night("26");
      web.risks = all?.slice(0, 1);
      await night("27");
      web.risks = all;
      await night("28");
    } finally {
      web.risks = all;
    }
    const html = readFileSync(join(pages, "nightly.html"), "utf8");
    // history: 2, so the 26th is gone from the trend; the 28th brought the open port back.
    expect([...html.matchAll(/<tr><td class=t>(2026-11-\d\d 03:00)/g)].map((m) => m[1])).toEqual(["2026-11-28 03:00", "2026-11-27 03:00"]);
    expect(html).toMatch(/较上次新增（1）[\s\S]*open port 6379/);
    expect(told().map((r) => r.page)).toEqual(told().map(() => expect.stringMatching(/^file:\/\/.*nightly\.html$/)));
  });

  const wecom = (report: ResultsReport, language: "en" | "zh") =>
    (JSON.parse(CHAT_CHANNELS.wecom.render(resultsMessage(report, language, "Asia/Shanghai"), { type: "wecom", url: "https://example.test/hook", language }, new Date(0)).body) as { markdown: { content: string } }).markdown.content;
  const PAGE_URL = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com/pages/nightly.html?expires=1796000000&signature=x";

  it("the chat message links the page in one line, as a link where the channel takes it (https), as text otherwise (file://), and says until when", async () => {
    const bucket: PageBucket = { putObject: async () => undefined };
    await world(cosPagePublisher(bucket, () => ({ url: PAGE_URL, opens: "page", validUntil: "2026-12-05T03:10:00.000Z" })))("28");
    expect(told()[0]).toMatchObject({ page: PAGE_URL, pageOpens: "page", pageValidUntil: "2026-12-05T03:10:00.000Z" });
    expect(wecom(told()[0]!, "en")).toContain(`[Results page: the trend and every current finding](${PAGE_URL})\nThe link works until 2026-12-05 11:10 (Asia/Shanghai).\n`);
    expect(wecom(told()[0]!, "zh")).toContain(`[结果页面：趋势与全部当前风险](${PAGE_URL})\n链接有效期至 2026-12-05 11:10 (Asia/Shanghai)。\n`);
    const local = { ...told()[0]!, page: "file:///tmp/state/pages/nightly.html", pageOpens: "file" as const };
    delete local.pageValidUntil;
    expect(wecom(local, "en")).toContain("\nResults page, a file on the machine that ran csip-scan: file:///tmp/state/pages/nightly.html\n**Tasks:**");
    expect(wecom(local, "zh")).toContain("\n结果页面（运行 csip-scan 的机器上的文件）: file:///tmp/state/pages/nightly.html\n");
  });

  it("SCF without a page URL: the page is a private object of the state bucket, linked by a presigned URL, and the message says it downloads and dies with the keys", async () => {
    const objects = new Map<string, { body: string; contentType: string }>();
    const bucket: PageBucket = { putObject: async (key, body, contentType) => objects.set(key, { body, contentType }) };
    const presigning = {
      temporaryKeys: true,
      presignedGetUrl: (key: string, seconds: number) => `https://csip-scan-state-1250000000.cos.ap-guangzhou.myqcloud.com/state/${key}?q-sign-time=0;${seconds}`,
    };
    await world(cosPagePublisher(bucket, presignedLinker(presigning, 2 * 86_400, () => Date.parse("2026-11-28T03:10:00Z"))))("28");
    expect([...objects.keys()]).toEqual(["pages/nightly.html"]);
    expect(objects.get("pages/nightly.html")!.contentType).toBe("text/html; charset=utf-8");
    expect(objects.get("pages/nightly.html")!.body).toContain("Curl authentication bypass");
    const [report] = told();
    expect(report).toMatchObject({
      page: "https://csip-scan-state-1250000000.cos.ap-guangzhou.myqcloud.com/state/pages/nightly.html?q-sign-time=0;172800",
      pageOpens: "download",
      pageValidUntil: "2026-11-30T03:10:00.000Z",
      pageExpiresWithKeys: true,
    });
    expect(wecom(report!, "en")).toContain(
      "[Results page, which your browser downloads as a file](https://csip-scan-state-1250000000.cos.ap-guangzhou.myqcloud.com/state/pages/nightly.html?q-sign-time=0;172800)\n" +
        "COS's own domain serves the page as a download: open the downloaded file in a browser. The link works until 2026-11-30 11:10 (Asia/Shanghai) at most, and stops sooner when the function's temporary keys expire (2 to 12 hours after they were issued).\n",
    );
    expect(wecom(report!, "zh")).toContain("[结果页面（浏览器会将其作为文件下载）](https://");
    expect(wecom(report!, "zh")).toContain("COS 默认域名以下载方式提供该页面：请用浏览器打开下载的文件。链接最长有效至 2026-11-30 11:10 (Asia/Shanghai)；函数的临时密钥过期时（签发后 2 至 12 小时）会提前失效。");
  });

  it("an asset-change run enters the history beside the trend, and its results message links the page too", async () => {
    const pages = join(dir, "pages-change");
    const publisher = folderPagePublisher(pages);
    const night = world(publisher, "en", ", onAssetChange: true");
    await night("27");
    const change = { ...runInstances, id: "page-change-1", data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: ["ins-page0001"] }) } };
    const ran = await assetChangeHandler({ logger: silentLogger(), clock: clockAt("2026-11-28T06:00:05Z") })(change, {});
    expect(ran.runs.map((r) => r.policy)).toEqual(["nightly"]);
    await scanResultsHandler({ logger: silentLogger(), clock: clockAt("2026-11-28T06:10:00Z"), pages: publisher })({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-28T06:10:00Z" }, {});
    const [scheduled, changed] = told();
    expect([scheduled!.trigger, changed!.trigger]).toEqual(["timer", "asset-change"]);
    expect(changed).toMatchObject({ page: scheduled!.page, pageOpens: "file" });
    const html = readFileSync(join(pages, "nightly.html"), "utf8");
    expect(html).toContain("<h3>Scans when assets changed (last 1)</h3>");
    expect(html).toMatch(/Current findings on the assets of the last one \(2\)/);
    // The scheduled run in the runs table, then the asset-change run in its own.
    expect([...html.matchAll(/<tr><td class=t>(2026-11-\d\d \d\d:\d\d)<td><span class="badge/g)].map((m) => m[1])).toEqual(["2026-11-27 03:00", "2026-11-28 14:00"]);
  });

  it("a page that cannot be published does not hold the message back: it goes without the link", async () => {
    const summary = await world({ publish: async () => Promise.reject(new Error("COS answered 503")) })("28");
    expect(summary.ok).toBe(true);
    expect(told()).toHaveLength(1);
    expect(told()[0]).not.toHaveProperty("page");
  });
});
