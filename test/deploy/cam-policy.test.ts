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
import { envOf, runWith, sdkClient } from "../helpers.ts";

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
    emulator.inject("CreateRiskCenterScanTask", { type: "late", answer: { type: "http", status: 502 }, afterMs: 1500 });
    await runScheduledScan(run(), { policy: "p", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "timer" });
    const event = { specversion: "1.0", id: "cam-1", type: "cvm:CloudEvent:ApiCall", source: "cvm.cloud.tencent", data: { eventName: "RunInstances", responseElements: { InstanceIdSet: ["ins-cam00001", "ins-unknown1"] } } };
    await runAssetChange(run(), parseAssetChangeDelivery(event));
    // And following the tasks to their end: their states, reports and links, the assets' risks.
    await runScanResults(run(), new Date());

    const called = new Set(emulator.calls.map((c) => `csip:${c.action}`));
    const policy = JSON.parse(readFileSync("docs/cam-policy.json", "utf8")) as { statement: { effect: string; action: string[]; resource: string[] }[] };
    expect(policy.statement).toHaveLength(1);
    expect(policy.statement[0]!.effect).toBe("allow");
    expect(new Set(policy.statement[0]!.action)).toEqual(called);
  });
});
