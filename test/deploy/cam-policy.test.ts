import { mkdtempSync, readFileSync } from "node:fs";
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
import { envOf, runWith, sdkClient } from "../helpers.ts";

const POLICY = JSON.parse(readFileSync("docs/cam-policy.json", "utf8")) as { statement: { effect: string; action: string[]; resource: string[] }[] };
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
});
