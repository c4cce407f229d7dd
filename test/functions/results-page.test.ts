import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resultsPageHandler } from "../../functions/results-page/index.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { utcIso } from "../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import type { FunctionUrlAnswer } from "../../shared/events/function-url.ts";
import { createLogger } from "../../shared/log.ts";
import { withRun, type PolicyHistory } from "../../shared/results/history.ts";
import { pageSigningKey, signedPageUrl } from "../../shared/results/page-link.ts";
import { resultsPage } from "../../shared/results/page/render.ts";
import { pageKey } from "../../shared/results/publish.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { envOf } from "../helpers.ts";
import { finding, results } from "../shared/results/page-fixtures.ts";

// The results-page function as SCF runs it behind its Function URL: its policy file and the deploy's
// bucket in the environment, the COS stand-in on 127.0.0.1, events of the Function URL document's shape.

const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
const BASE = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com";
const dir = mkdtempSync(join(tmpdir(), "csip-scan-results-page-fn-"));
let standIn: CloudStandIn;
let store: CosStateStore;
let key: Buffer;
let html: string;
const logged: string[] = [];
const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _, done) => (logged.push(chunk.toString("utf8")), done()) }) });

const config = join(dir, "policies.yaml");
writeFileSync(config, `version: 1\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n`);
/** What SCF and the deploy give the function: its policy file, the bucket, the role's keys, the region; and the stand-in. */
const env = (cos = standIn) =>
  envOf({ CSIP_SCAN_CONFIG: config, CSIP_SCAN_STATE_BUCKET: BUCKET, CSIP_SCAN_COS_ENDPOINT: cos.url, TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey, TENCENTCLOUD_REGION: "ap-guangzhou" });

beforeAll(async () => {
  const account = { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }] };
  standIn = await startCloudStandIn({ account, keys: [LOCAL_ACCOUNT] });
  store = new CosStateStore({ bucket: BUCKET, region: "ap-guangzhou", prefix: "state/", credentials: LOCAL_ACCOUNT, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 10, capMs: 50, attempts: 2 } });
  key = await pageSigningKey(store, Date.now);
  const found = [finding("a", { name: "Log4j RCE", level: "extreme" })];
  const history: PolicyHistory = withRun({ policy: "nightly", runs: [], latest: null }, results("2026-11-28T19:00:00.000Z", found), found, 30);
  html = resultsPage({ histories: [history], timezone: "Asia/Shanghai", language: "en", generatedAt: new Date() });
  await store.putObject(pageKey("nightly"), html, "text/html; charset=utf-8");
});
afterAll(async () => {
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});

let handler: ReturnType<typeof resultsPageHandler>;
beforeAll(() => {
  handler = resultsPageHandler({ env: env(), logger });
});
/** A request as the Function URL document's event shows it. */
const event = (url: string, method = "GET", extra: Record<string, unknown> = {}) => {
  const parsed = new URL(url);
  return { body: "", headers: { accept: "text/html", host: parsed.host, "x-scf-remote-addr": "203.0.113.9" }, httpMethod: method, path: parsed.pathname, queryString: Object.fromEntries(parsed.searchParams), ...extra };
};
const call = (e: unknown): Promise<FunctionUrlAnswer> => handler(e);
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe("results-page main_handler", () => {
  it("answers a signed link with the page: 200, HTML, its own CSP, no caching, nosniff, no referrer, no Content-Disposition", async () => {
    const answer = await call(event(signedPageUrl(BASE, key, "nightly", inAnHour())));
    expect(answer).toEqual({
      statusCode: 200,
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1],
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      },
      body: html,
      isBase64Encoded: false,
    });
    expect(answer.headers["Content-Security-Policy"]).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
  });

  it("HEAD gets the same headers and no body", async () => {
    const answer = await call(event(signedPageUrl(BASE, key, "nightly", inAnHour()), "HEAD"));
    expect([answer.statusCode, answer.body, answer.headers["Content-Type"]]).toEqual([200, "", "text/html; charset=utf-8"]);
  });

  it.each<[string, () => ReturnType<typeof event>, number]>([
    ["a changed signature", () => event(signedPageUrl(BASE, key, "nightly", inAnHour()).replace(/signature=./, "signature=Z")), 403],
    ["an expired link", () => event(signedPageUrl(BASE, key, "nightly", Math.floor(Date.now() / 1000) - 1)), 410],
    ["another policy's name", () => event(signedPageUrl(BASE, key, "nightly", inAnHour()).replace("/pages/nightly.html", "/pages/weekly.html")), 403],
    ["a path outside the pages", () => event(signedPageUrl(BASE, key, "nightly", inAnHour()).replace("/pages/nightly.html", "/state/results-page/signing-key.json")), 404],
    ["no signature at all", () => event(`${BASE}/pages/nightly.html`), 403],
    ["a valid link of a policy with no page", () => event(signedPageUrl(BASE, key, "weekly", inAnHour())), 404],
    ["another method", () => event(signedPageUrl(BASE, key, "nightly", inAnHour()), "POST"), 405],
    ["a malformed event", () => ({ ...event(`${BASE}/pages/nightly.html`), path: 42 }) as never, 400],
  ])("%s gets a small page with its status and no page (%#)", async (_, request, status) => {
    const answer = await call(request());
    expect(answer.statusCode).toBe(status);
    expect(answer.body).not.toContain("Log4j");
    expect(answer.body).toMatch(new RegExp(`^<!DOCTYPE html>\\n<html lang="en"><head><meta charset="utf-8"><title>${status} [A-Za-z ]+</title></head><body><h1>${status} [A-Za-z ]+</h1><p>[^<]+</p></body></html>\\n$`));
    expect(answer.headers).toMatchObject({ "Content-Type": "text/html; charset=utf-8", "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" });
    expect(answer.headers).not.toHaveProperty("Content-Disposition");
    if (status === 405) expect(answer.headers.Allow).toBe("GET, HEAD");
  });

  it("logs each answer's status and policy, never the link's signature or the key", async () => {
    const url = signedPageUrl(BASE, key, "nightly", inAnHour());
    logged.length = 0;
    await call(event(url));
    const signature = new URL(url).searchParams.get("signature")!;
    expect(logged.join("")).toContain('"status":200');
    expect(logged.join("")).toContain('"policy":"nightly"');
    expect(logged.join("")).not.toContain(signature);
    expect(logged.join("")).not.toContain(key.toString("base64url"));
  });

  it("before any link was signed (no key in the bucket), every request is refused", async () => {
    const empty = { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }] };
    const other = await startCloudStandIn({ account: empty, keys: [LOCAL_ACCOUNT] });
    try {
      const fresh = resultsPageHandler({ env: env(other), logger });
      expect((await fresh(event(signedPageUrl(BASE, key, "nightly", inAnHour())))).statusCode).toBe(403);
    } finally {
      await other.close();
    }
  });
});
