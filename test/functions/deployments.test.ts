import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { readEnvironment } from "../../shared/env.ts";
import { silentLogger } from "../../shared/log.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { clockAt, startListener } from "../helpers.ts";

// Two deployments (a stage in a region each) of one policy file, in one account: the same policy at the
// same slot in both, their state in one folder (`state.path`, a CFS mount both stages mount), their
// messages to one generic webhook on 127.0.0.1. Each deployment makes its own tasks, tells its own
// results, and gives its messages IDs of its own: a receiver that drops a `webhook-id` it has seen
// (docs/results.md) drops neither deployment's message as the other's.

const DEPLOYMENTS = ["dev-ap-guangzhou", "prod-ap-shanghai"] as const;
const SLOT = "2026-11-29T03:00:00Z";

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-deployments-"));
const state = join(dir, "shared-state");

beforeAll(async () => {
  delete process.env.http_proxy;
  emulator = await startEmulator({
    estate: [1, 2, 3].map((n) => ({ kind: "cvm" as const, id: `ins-deploy0${n}`, tags: { tier: "web" } })),
    rateLimit: false,
    scanTiming: { queuedMs: 0, scanningMs: 0 },
  });
  hook = await startListener();
  writeFileSync(
    join(dir, "policies.yaml"),
    `version: 1
timezone: UTC
state: { path: ${JSON.stringify(state)} }
results: { checkEvery: 10m, giveUpAfter: 24h }
notifiers:
  siem: { type: webhook, url: ${hook.url} }
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2, notify: [siem], notifyOn: [summary, results] }
`,
  );
});
afterAll(async () => {
  await hook.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A deployment's functions as SCF runs them: the deploy names the deployment in their environment (state.path: nothing else). */
function functionsOf(deployment: string) {
  const env = () =>
    readEnvironment({
      CSIP_SCAN_CONFIG: join(dir, "policies.yaml"),
      CSIP_SCAN_DEPLOYMENT: deployment,
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      CSIP_ENDPOINT: emulator.url,
      CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
    });
  const options = { env, logger: silentLogger(), throwOnFailure: false };
  return {
    scan: () => scheduledScanHandler({ ...options, clock: clockAt("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "nightly", Time: SLOT }, {}),
    look: () => scanResultsHandler({ ...options, clock: clockAt("2026-11-29T03:10:00Z") })({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {}),
  };
}

/** What the webhook received, in order: each message's schema and its webhook-id. */
const received = () => hook.received.map((r) => ({ schema: (JSON.parse(r.body) as { schema: string }).schema, id: String(r.headers["webhook-id"]) }));

describe("two deployments of one policy file, one state folder, one webhook", () => {
  const [dev, prod] = DEPLOYMENTS.map(functionsOf) as [ReturnType<typeof functionsOf>, ReturnType<typeof functionsOf>];

  it("each makes its own tasks, and its run message has an ID of its own", async () => {
    expect((await dev.scan()).ok).toBe(true);
    expect((await prod.scan()).ok).toBe(true);
    expect(emulator.state.tasks.map((t) => t.TaskName).sort()).toEqual([
      "csip-scan-dev-ap-guangzhou:nightly:20261129T030000Z:1",
      "csip-scan-dev-ap-guangzhou:nightly:20261129T030000Z:2",
      "csip-scan-prod-ap-shanghai:nightly:20261129T030000Z:1",
      "csip-scan-prod-ap-shanghai:nightly:20261129T030000Z:2",
    ]);
    const runs = received().filter((m) => m.schema === "csip-scan.run/v1");
    expect(runs).toHaveLength(2);
    expect(new Set(runs.map((m) => m.id)).size).toBe(2);
    // The shared folder holds a folder per deployment.
    for (const deployment of DEPLOYMENTS) expect(existsSync(join(state, deployment))).toBe(true);
  });

  it("each tells its own results, under an ID of its own, and leaves the other's open run alone", async () => {
    const devLook = await dev.look();
    expect([devLook.open, devLook.told.map((t) => t.status)]).toEqual([1, ["all clear"]]);
    const prodLook = await prod.look();
    expect([prodLook.open, prodLook.told.map((t) => t.status)]).toEqual([1, ["all clear"]]);
    const results = received().filter((m) => m.schema === "csip-scan.results/v1");
    expect(results).toHaveLength(2);
    expect(new Set(results.map((m) => m.id)).size).toBe(2);
    // No message of one deployment has the ID of any other message.
    expect(new Set(received().map((m) => m.id)).size).toBe(hook.received.length);
  });
});
