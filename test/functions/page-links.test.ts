import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { utcIso } from "../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import { parseConfig } from "../../shared/config/load.ts";
import { ConfigError } from "../../shared/errors.ts";
import { silentLogger } from "../../shared/log.ts";
import type { ResultsReport } from "../../shared/notify/results-report.ts";
import type { ScanResultsSummary } from "../../shared/run/scan-results.ts";
import { checkPageRequest, readPageSigningKey } from "../../shared/results/page-link.ts";
import { scrub } from "../../shared/secrets.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { clockAt, envOf, startListener, useHandlerWorld } from "../helpers.ts";

// Which link a deployed function's results message gives, from the policy file and the environment, on
// the COS store as SCF runs it: the team's CDN domain (URL authentication type A), else the results-page
// function's URL (CSIP_SCAN_PAGE_URL, its own signature), else a presigned COS link that downloads.

const ESTATE: EstateAssetInput[] = [{ kind: "cvm", id: "ins-link0001", tags: { team: "web" }, risks: [{ kind: "port", level: "middle", name: "redis", port: 6379 }] }];
const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
const CDN_KEY = "Reports2026CdnKey";
const PAGE_URL = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com";

let hook: Awaited<ReturnType<typeof startListener>>;
let standIn: CloudStandIn;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-page-links-"));
let count = 0;

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ hook } = w));

beforeAll(async () => {
  standIn = await startCloudStandIn({ account: freshAccount(LOCAL_ACCOUNT), keys: [LOCAL_ACCOUNT] });
  Object.assign(process.env, { CSIP_SCAN_STATE_BUCKET: BUCKET, CSIP_SCAN_COS_ENDPOINT: standIn.url, CDN_KEY });
});
afterAll(async () => {
  for (const name of ["CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_COS_ENDPOINT", "CDN_KEY", "CSIP_SCAN_PAGE_URL"]) delete process.env[name];
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  delete process.env.CSIP_SCAN_PAGE_URL;
  standIn.account.buckets = [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }];
  standIn.account.objects = [];
});

/** What the last night's results look returned, as SCF logs it. */
let told: ScanResultsSummary;

/** A night of the policy (a scheduled run, then the results), with `results` as given; the results message. */
async function night(results = ""): Promise<ResultsReport> {
  const file = join(dir, `p${++count}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: Asia/Shanghai
results: { checkEvery: 10m, pageLinkValidFor: 7d${results} }
notifiers:
  hook: { type: webhook, url: ${hook.url} }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], notify: [hook], notifyOn: [results] }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  await scheduledScanHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "nightly", Time: "2026-11-29T03:00:00Z" }, {});
  told = await scanResultsHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:10:00Z") })({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {});
  return hook.received.map((r) => JSON.parse(r.body) as ResultsReport).find((b) => b.schema === "csip-scan.results/v1")!;
}

describe("the results message's link", () => {
  it("with results.page.cdnDomain: the page's object on the CDN domain, with a type A signature computed here independently", async () => {
    const report = await night(", page: { cdnDomain: reports.example.com, cdnAuthKey: \"${CDN_KEY}\" }");
    const link = new URL(report.page!);
    expect(`${link.origin}${link.pathname}`).toBe("https://reports.example.com/state/pages/nightly.html");
    const [timestamp, rand, uid, md5] = link.searchParams.get("sign")!.split("-") as [string, string, string, string];
    // md5hash = md5sum(uri-timestamp-rand-uid-pkey), https://cloud.tencent.com/document/product/228/41623
    expect(md5).toBe(createHash("md5").update(`/state/pages/nightly.html-${timestamp}-${rand}-${uid}-${CDN_KEY}`).digest("hex"));
    expect(uid).toBe("0");
    expect(Number(timestamp)).toBe(Math.floor(Date.parse("2026-11-29T03:10:00Z") / 1000));
    expect(report).toMatchObject({ pageOpens: "page", pageValidUntil: "2026-12-06T03:10:00.000Z" });
    expect(standIn.account.objects.map((o) => o.Key)).toContain("state/pages/nightly.html");
    expect(scrub(`key ${CDN_KEY}`)).toBe("key ***");
  });

  it("with CSIP_SCAN_PAGE_URL: the page function's link, signed with the key the bucket holds, valid for pageLinkValidFor", async () => {
    process.env.CSIP_SCAN_PAGE_URL = PAGE_URL;
    const report = await night();
    const link = new URL(report.page!);
    expect(`${link.origin}${link.pathname}`).toBe(`${PAGE_URL}/pages/nightly.html`);
    expect(report).toMatchObject({ pageOpens: "page", pageValidUntil: "2026-12-06T03:10:00.000Z" });
    const store = new CosStateStore({ bucket: BUCKET, region: "ap-guangzhou", prefix: "state/", credentials: LOCAL_ACCOUNT, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 10, capMs: 50, attempts: 2 } });
    const key = await readPageSigningKey(store);
    const query = Object.fromEntries(link.searchParams);
    expect(checkPageRequest(key!, link.pathname, query, Date.parse("2026-12-06T03:09:00Z"))).toEqual({ page: "nightly.html" });
    expect(checkPageRequest(key!, link.pathname, query, Date.parse("2026-12-06T03:11:00Z"))).toMatchObject({ status: 410 });
    // The summary SCF logs and returns says where the page is, and holds nothing that opens it for 7 days.
    expect(told.told.map((t) => t.page)).toEqual([`${PAGE_URL}/pages/nightly.html`]);
    expect(JSON.stringify(told)).not.toContain(link.searchParams.get("signature"));
  });

  it("with neither: a presigned COS link, which the message calls a download; COS's answer to it is one", async () => {
    const report = await night();
    expect(report.page).toMatch(/^https:\/\/csip-scan-state-1250000000\.cos\.ap-guangzhou\.myqcloud\.com\/state\/pages\/nightly\.html\?q-sign-algorithm=sha1&/);
    expect(report).toMatchObject({ pageOpens: "download" });
    expect(told.told[0]!.page).toBe("https://csip-scan-state-1250000000.cos.ap-guangzhou.myqcloud.com/state/pages/nightly.html");
    // The stand-in answers as COS's default domain does for a bucket made after 2024-01-01.
    const link = new URL(report.page!);
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: standIn.port, path: `${link.pathname}${link.search}`, headers: { host: link.host } }, (res) => (res.resume(), resolve(res)));
      req.on("error", reject);
      req.end();
    });
    expect([answer.statusCode, answer.headers["content-disposition"], answer.headers["x-cos-force-download"]]).toEqual([200, "attachment", "true"]);
  });
});

describe("results.page in the policy file", () => {
  const parse = (page: string) => parseConfig(`version: 1\nresults: { page: ${page} }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n`, "p.yaml", envOf());
  it.each([
    ["{ cdnDomain: reports.example.com }", "give cdnDomain and cdnAuthKey together"],
    ["{ cdnAuthKey: Abc123456 }", "give cdnDomain and cdnAuthKey together"],
    ["{ cdnDomain: https://reports.example.com/x, cdnAuthKey: Abc123456 }", "must be a domain name such as reports.example.com"],
    ["{ cdnDomain: reports.example.com, cdnAuthKey: short }", "must be 6 to 40 letters and digits"],
    ["{ cdnDomain: reports.example.com, cdnAuthKey: Abc123456, origin: x }", "origin"],
  ])("%s is refused: %s", (page, message) => {
    let error: unknown;
    try {
      parse(page);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(message);
  });
});
