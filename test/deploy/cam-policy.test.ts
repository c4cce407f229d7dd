import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../shared/config/load.ts";
import { parseAssetChangeDelivery } from "../../shared/events/delivery.ts";
import { runAssetChange } from "../../shared/run/asset-change.ts";
import { runScanResults } from "../../shared/run/scan-results.ts";
import { runScheduledScan } from "../../shared/run/scheduled-scan.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { startCloudStandIn } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { stateStoreFor } from "../../shared/run/services.ts";
import { resultsPageHandler } from "../../functions/results-page/index.ts";
import { silentLogger } from "../../shared/log.ts";
import { pageSigningKey, signedPageUrl } from "../../shared/results/page-link.ts";
import { pageKey } from "../../shared/results/publish.ts";
import { heapSizeLimitMb, type ColdStart } from "../../shared/run/cold-start.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { envOf, runWith, sdkClient } from "../helpers.ts";

type CamPolicy = { statement: { effect: string; action: string[]; resource: string[] }[] };
const POLICY = JSON.parse(readFileSync("docs/cam-policy.json", "utf8")) as CamPolicy;
/** The results-page function's own role (CSIP_SCAN_PAGE_ROLE): it faces the internet. */
const PAGE_POLICY = JSON.parse(readFileSync("docs/cam-page-policy.json", "utf8")) as CamPolicy;
const REGION = "ap-guangzhou";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-cam00001", tags: { env: "prod" } }], rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
});
afterAll(() => emulator.close());

describe("docs/cam-policy.json", () => {
  it("allows exactly the CSIP actions the functions call", async () => {
    const config = parseConfig(
      `version: 1
state: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-cam-"))} }
timeouts: { requestSeconds: 1 }
assetChange: { syncUnknown: true, syncWaitSeconds: 1 }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - { name: p, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], onAssetChange: true }
`,
      "cam.yaml",
      envOf(),
    );
    const run = () => runWith(config, sdkClient(emulator));
    // Every path that calls CSIP: a scheduled run (inventory of every kind, the look for earlier
    // tasks, creation, and removing a duplicate when a create lands late), and an asset change naming
    // an asset CSIP does not know yet (the sync).
    emulator.inject("CreateRiskCenterScanTask", { type: "late", answer: { type: "http", status: 502 }, landsBefore: { action: "DescribeScanTaskList", call: 2 } });
    await runScheduledScan(run(), { policy: "p", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "timer" });
    const event = { specversion: "1.0", id: "cam-1", type: "cvm:CloudEvent:ApiCall", source: "cvm.cloud.tencent", data: { eventName: "RunInstances", responseElements: { InstanceIdSet: ["ins-cam00001", "ins-unknown1"] } } };
    await runAssetChange(run(), parseAssetChangeDelivery(event));
    // And following the tasks to their end: their states, reports and links, the assets' risks.
    await runScanResults(run(), new Date());

    const called = new Set(emulator.calls.map((c) => `csip:${c.action}`));
    const csip = POLICY.statement.filter((s) => s.action.some((a) => a.startsWith("csip:")));
    expect(csip).toHaveLength(1);
    expect(csip[0]!.effect).toBe("allow");
    expect(csip[0]!.resource).toEqual(["*"]);
    expect(new Set(csip[0]!.action)).toEqual(called);
  });

  it("allows exactly the COS actions the state store sends, on its bucket and prefix only", async () => {
    const appId = LOCAL_ACCOUNT.appId;
    const bucket = `csip-scan-state-${appId}`;
    // A lost answer to a lock's write-once makes the store look at the object's head, as it would on COS.
    let lose = true;
    const standIn = await startCloudStandIn({
      account: { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: bucket, Region: REGION, CreationDate: "2026-11-29T00:00:00Z" }] },
      keys: [LOCAL_ACCOUNT],
      cosFault: ({ method, key }) => (method === "PUT" && key.includes("/locks/") && lose ? ((lose = false), "lose-answer") : undefined),
    });
    try {
      const config = parseConfig(
        `version: 1
state: { cos: { bucket: ${bucket}, region: ${REGION} } }
timeouts: { requestSeconds: 1 }
retry: { baseMs: 1, capMs: 10 }
assetChange: { syncUnknown: false }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - { name: p, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], onAssetChange: true }
`,
        "cam.yaml",
        envOf(),
      );
      const env = envOf({ TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey, CSIP_SCAN_COS_ENDPOINT: standIn.url });
      const { store } = stateStoreFor(config, env, { warn: () => {} });
      const run = () => runWith(config, sdkClient(emulator), { store });
      await runScheduledScan(run(), { policy: "p", scheduledTime: new Date("2026-11-30T03:00:00Z"), trigger: "timer" });
      const event = { specversion: "1.0", id: "cam-cos-1", type: "cvm:CloudEvent:ApiCall", source: "cvm.cloud.tencent", data: { eventName: "RunInstances", responseElements: { InstanceIdSet: ["ins-cam00001"] } } };
      await runAssetChange(run(), parseAssetChangeDelivery(event));
      await runScanResults(run(), new Date());

      const cos = POLICY.statement.filter((s) => s.action.some((a) => a.startsWith("cos:")));
      const resource = (s: (typeof cos)[number]) => s.resource.map((r) => r.replaceAll("<REGION>", REGION).replaceAll("<APPID>", appId));
      const objectCalls = standIn.calls.filter((c) => c.params.Key !== undefined);
      const bucketCalls = standIn.calls.filter((c) => c.params.Key === undefined);
      expect(objectCalls.every((c) => String(c.params.Key).startsWith("state/") && c.params.Bucket === bucket)).toBe(true);
      expect(bucketCalls.every((c) => c.params.Bucket === bucket)).toBe(true);
      expect(cos.map((s) => [new Set(s.action), resource(s)])).toEqual([
        [new Set(objectCalls.map((c) => `cos:${c.action}`)), [`qcs::cos:${REGION}:uid/${appId}:${bucket}/state/*`]],
        [new Set(bucketCalls.map((c) => `cos:${c.action}`)), [`qcs::cos:${REGION}:uid/${appId}:${bucket}/*`]],
      ]);
      expect(POLICY.statement).toHaveLength(3);
    } finally {
      await standIn.close();
    }
  });

  it("has a role of its own for the page function (docs/cam-page-policy.json): exactly the COS requests it sends, on its deployment's pages, signing key and cold-start record", async () => {
    const appId = LOCAL_ACCOUNT.appId;
    const bucket = `csip-scan-state-${appId}`;
    const deployment = "dev-ap-guangzhou";
    const prefix = `state/${deployment}/`;
    const standIn = await startCloudStandIn({ account: { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: bucket, Region: REGION, CreationDate: "2026-11-29T00:00:00Z" }] }, keys: [LOCAL_ACCOUNT] });
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-cam-page-"));
    try {
      // What the functions that write messages leave in the bucket: the signing key and each policy's page.
      const writer = new CosStateStore({ bucket, region: REGION, prefix, credentials: LOCAL_ACCOUNT, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 1, capMs: 10, attempts: 2 } });
      const key = await pageSigningKey(writer, Date.now);
      for (const policy of ["nightly", "prodWeb"]) await writer.putObject(pageKey(policy), `<!DOCTYPE html><title>${policy}</title>`, "text/html; charset=utf-8");
      const config = join(dir, "scan-policies.yaml");
      writeFileSync(config, `version: 1\nnotifiers:\n  hook: { type: webhook, url: "\${HOOK_URL}" }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port], notify: [hook] }\n`);
      // The environment the deploy gives it (local/deploy/plugin.ts), the role's keys and the stand-in.
      const env = envOf({
        CSIP_SCAN_CONFIG: config,
        CSIP_SCAN_STATE_BUCKET: bucket,
        CSIP_SCAN_STATE_REGION: REGION,
        CSIP_SCAN_STATE_PREFIX: prefix,
        TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
        TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
        CSIP_SCAN_COS_ENDPOINT: standIn.url,
      });
      const coldStart: ColdStart = { function: "results-page", node: process.version, heapSizeLimitMb: heapSizeLimitMb(), heapBound: "none", at: new Date().toISOString() };
      const serve = resultsPageHandler({ env, logger: silentLogger(), coldStart });
      const from = standIn.calls.length;
      // Every kind of request anyone may send it: links that open, and each refusal.
      const BASE = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com";
      const later = Math.floor(Date.now() / 1000) + 3600;
      const request = async (url: string, method = "GET") => {
        const { pathname, searchParams } = new URL(url);
        return (await serve({ body: "", headers: {}, httpMethod: method, path: pathname, queryString: Object.fromEntries(searchParams) })).statusCode;
      };
      const statuses = [
        await request(signedPageUrl(BASE, key, "nightly", later)),
        await request(signedPageUrl(BASE, key, "prodWeb", later), "HEAD"),
        await request(signedPageUrl(BASE, key, "weekly", later)),
        await request(signedPageUrl(BASE, key, "nightly", later - 7200)),
        await request(signedPageUrl(BASE, key, "nightly", later).replace(/signature=./, "signature=_")),
        await request(`${BASE}/state/results-page/signing-key.json`),
        await request(signedPageUrl(BASE, key, "nightly", later), "POST"),
      ];
      expect(statuses).toEqual([200, 200, 404, 410, 403, 404, 405]);

      const calls = standIn.calls.slice(from).filter((c) => c.service === "cos");
      const fill = (pattern: string) => pattern.replaceAll("<REGION>", REGION).replaceAll("<APPID>", appId).replaceAll("<DEPLOYMENT>", deployment);
      const covers = (pattern: string, resource: string) => new RegExp(`^${fill(pattern).split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`).test(resource);
      const resourceOf = (c: (typeof calls)[number]) => `qcs::cos:${REGION}:uid/${appId}:${String(c.params.Bucket)}/${c.params.Key === undefined ? "*" : String(c.params.Key)}`;
      // Each request is allowed by a statement of its action on its object...
      for (const c of calls) {
        expect(PAGE_POLICY.statement.some((st) => st.effect === "allow" && st.action.includes(`cos:${c.action}`) && st.resource.some((r) => covers(r, resourceOf(c)))), `cos:${c.action} ${resourceOf(c)}`).toBe(true);
      }
      // ...and nothing more is granted: every action, and every resource of every statement, was needed.
      expect(new Set(PAGE_POLICY.statement.flatMap((st) => st.action))).toEqual(new Set(calls.map((c) => `cos:${c.action}`)));
      for (const st of PAGE_POLICY.statement) {
        for (const r of st.resource) expect(calls.some((c) => st.action.includes(`cos:${c.action}`) && covers(r, resourceOf(c))), r).toBe(true);
      }
      // Its deployment's folder only: another deployment's pages and records are not covered.
      expect(covers(PAGE_POLICY.statement[0]!.resource[0]!, `qcs::cos:${REGION}:uid/${appId}:${bucket}/state/prod-ap-guangzhou/pages/nightly.html`)).toBe(false);
      expect(covers(PAGE_POLICY.statement[0]!.resource[0]!, `qcs::cos:${REGION}:uid/${appId}:${bucket}/state/${deployment}/run/csip-scan:nightly.json`)).toBe(false);
    } finally {
      await standIn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
