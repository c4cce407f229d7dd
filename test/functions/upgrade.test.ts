import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

// Upgrading a deployment made before deployments had state folders and task names of their own. The
// previous version kept a deployment's state at the top of its folder and named its tasks
// `csip-scan:POLICY:SLOT:N`: the layout local mode keeps to this day, so the functions without
// CSIP_SCAN_DEPLOYMENT play the previous version exactly. After the upgrade the deployment's functions
// (CSIP_SCAN_DEPLOYMENT set) still tell the runs it left open, and SCF's retry of an attempt made before
// the upgrade creates no task twice and sends the message that attempt stored.

const DAY1 = "2026-11-28T03:00:00Z";
const DAY2 = "2026-11-29T03:00:00Z";

let emulator: Emulator;
let refusing = false;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-upgrade-"));

beforeAll(async () => {
  delete process.env.http_proxy;
  emulator = await startEmulator({
    estate: [1, 2, 3].map((n) => ({ kind: "cvm" as const, id: `ins-upgrade${n}`, tags: { tier: "web" } })),
    rateLimit: false,
    scanTiming: { queuedMs: 0, scanningMs: 0 },
  });
  // A 400 is not retried: the attempt fails at once (a 5xx would be retried with its backoff).
  hook = await startListener(() => ({ status: refusing ? 400 : 200 }));
  writeFileSync(
    join(dir, "policies.yaml"),
    `version: 1
timezone: UTC
state: { path: ${JSON.stringify(join(dir, "state"))} }
retry: { baseMs: 1, capMs: 5, attempts: 2 }
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

/** The functions of the previous version (`deployment` undefined), or of this version in the deployment. */
function functionsOf(deployment?: string) {
  const env = () =>
    readEnvironment({
      CSIP_SCAN_CONFIG: join(dir, "policies.yaml"),
      ...(deployment ? { CSIP_SCAN_DEPLOYMENT: deployment } : {}),
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      CSIP_ENDPOINT: emulator.url,
      CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
    });
  const options = { env, logger: silentLogger(), throwOnFailure: false };
  return {
    scan: (slot: string, now: string) => scheduledScanHandler({ ...options, clock: clockAt(now) })({ Type: "Timer", TriggerName: "nightly", Time: slot }, {}),
    look: (now: string) => scanResultsHandler({ ...options, clock: clockAt(now) })({ Type: "Timer", TriggerName: "csip-scan-results", Time: now }, {}),
  };
}

const messages = () => hook.received.map((r) => ({ schema: (JSON.parse(r.body) as { schema: string }).schema, id: String(r.headers["webhook-id"]) }));
const taskNames = () => emulator.state.tasks.map((t) => t.TaskName).sort();

describe("a deployment upgraded from the version before state folders and task names per deployment", () => {
  const previous = functionsOf();
  const upgraded = functionsOf("prod-ap-guangzhou");

  it("the previous version: a run left open on day 1, and day 2's attempt made its tasks but could not send its message", async () => {
    expect((await previous.scan(DAY1, "2026-11-28T03:00:05Z")).ok).toBe(true);
    refusing = true;
    expect((await previous.scan(DAY2, "2026-11-29T03:00:05Z")).ok).toBe(false);
    refusing = false;
    expect(taskNames()).toEqual([
      "csip-scan:nightly:20261128T030000Z:1",
      "csip-scan:nightly:20261128T030000Z:2",
      "csip-scan:nightly:20261129T030000Z:1",
      "csip-scan:nightly:20261129T030000Z:2",
    ]);
    expect(messages().map((m) => m.schema)).toEqual(["csip-scan.run/v1", "csip-scan.run/v1"]);
  });

  it("SCF's retry of day 2, after the upgrade, makes no task and sends the message the attempt stored", async () => {
    const retry = await upgraded.scan(DAY2, "2026-11-29T03:01:05Z");
    expect(retry.ok).toBe(true);
    expect(taskNames()).toHaveLength(4);
    expect(retry.runs[0]!.tasks.map((t) => t.taskName)).toEqual(["csip-scan:nightly:20261129T030000Z:1", "csip-scan:nightly:20261129T030000Z:2"]);
    const [, refused, sent] = messages();
    expect(sent).toEqual(refused);
  });

  it("the first look after the upgrade tells both runs the previous version left open, each once", async () => {
    const look = await upgraded.look("2026-11-29T03:10:00Z");
    expect(look.told.map((t) => [t.scheduledTime, t.status])).toEqual(
      expect.arrayContaining([
        ["2026-11-28T03:00:00.000Z", "all clear"],
        ["2026-11-29T03:00:00.000Z", "all clear"],
      ]),
    );
    expect(look.told).toHaveLength(2);
    expect((await upgraded.look("2026-11-29T03:20:00Z")).told).toEqual([]);
    expect(messages().filter((m) => m.schema === "csip-scan.results/v1")).toHaveLength(2);
  });

  it("a later run is the deployment's own: its own task names, no look under the old ones", async () => {
    const listsBefore = emulator.callsOf("DescribeScanTaskList").length;
    expect((await upgraded.scan("2026-11-30T03:00:00Z", "2026-11-30T03:00:05Z")).ok).toBe(true);
    expect(taskNames().filter((n) => n.includes("20261130"))).toEqual(["csip-scan-prod-ap-guangzhou:nightly:20261130T030000Z:1", "csip-scan-prod-ap-guangzhou:nightly:20261130T030000Z:2"]);
    const looks = emulator.callsOf("DescribeScanTaskList").slice(listsBefore);
    expect(JSON.stringify(looks)).not.toContain('"csip-scan:nightly:');
  });
});
