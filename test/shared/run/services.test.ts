import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/load.ts";
import { runScheduledScan } from "../../../shared/run/scheduled-scan.ts";
import { createServices, startRun, type Progress } from "../../../shared/run/services.ts";
import { silentLogger } from "../../../shared/log.ts";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { envOf, runWith, sdkClient } from "../../helpers.ts";

/** The most of `times` (milliseconds) that any one-second window holds. */
function busiestWindow(times: readonly number[]): number {
  times = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: Array.from({ length: 150 }, (_, i) => ({ kind: "cvm" as const, id: `ins-r${String(i).padStart(7, "0")}`, tags: { env: "prod" } })),
    rateLimit: 20,
  });
});
afterAll(() => emulator.close());

describe("the shared rate limiter", () => {
  // What the limiter decides is when each call leaves: measured there, as it leaves, the test reads the
  // same on a busy machine. When a call arrives is the machine's and the network's; the margin absorbs
  // that jitter, and a RequestLimitExceeded that gets through anyway is retried (every run ends with its task).
  it("200 policies at once against CSIP's 20 per second: no one-second window over 20 calls of an action as they leave, and every run makes its task", async () => {
    const policies = Array.from({ length: 200 }, (_, i) => `  - { name: p${i}, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }`).join("\n");
    const config = parseConfig(
      // A margin of 100 ms: the suite runs files side by side on two cores, and a busy event loop can
      // bunch arrivals by more than the default 20 ms.
      `version: 1\nrateLimit: { perSecond: 20, marginMs: 100 }\nstate: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-rate-"))} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\npolicies:\n${policies}\n`,
      "rate.yaml",
      envOf(),
    );
    const sdk = sdkClient(emulator);
    const leaving: Record<string, number[]> = {};
    const watched: CsipClient = {
      call: (action, request) => {
        (leaving[action] ??= []).push(performance.now());
        return sdk.call(action, request);
      },
    };
    const run = runWith(config, watched);
    const time = new Date("2026-11-29T03:00:00Z");
    const summaries = await Promise.all(config.policies.map((p) => runScheduledScan(run, { policy: p.name, scheduledTime: time, trigger: "manual" })));

    expect(summaries.every((s) => s.ok && s.tasks.length === 1)).toBe(true);
    for (const action of ["DescribeCVMAssets", "DescribeScanTaskList", "CreateRiskCenterScanTask"]) {
      expect(busiestWindow(leaving[action] ?? [])).toBeLessThanOrEqual(20);
    }
    // Every policy made its own task, each once.
    expect(new Set(emulator.state.tasks.map((t) => t.TaskName)).size).toBe(200);
    expect(emulator.state.tasks).toHaveLength(200);
    // The inventory was read once for the whole run: two pages of 100.
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(2);
  }, 180_000);
});

describe("the rate limiter's budget", () => {
  it("is the account's, not its keys': a run started after the role's keys rotated waits for the calls made under the old ones", async () => {
    // 5 a second: each call leaves at least 250 ms after the one before it, within one budget.
    const config = parseConfig(
      `version: 1\nrateLimit: { perSecond: 5, marginMs: 0 }\nstate: { memory: true }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\npolicies:\n  - { name: p, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }\n`,
      "budget.yaml",
      envOf(),
    );
    const sdk = sdkClient(emulator);
    let secretId = "AKIDbeforerotation";
    const leaving: number[] = [];
    const rotating: CsipClient = {
      get account() {
        return secretId;
      },
      call: (action, request) => {
        leaving.push(performance.now());
        return sdk.call(action, request);
      },
    };
    const services = createServices(config, envOf(), { sdk: rotating, logger: silentLogger() });
    const before = startRun(services);
    secretId = "AKIDafterrotation";
    const after = startRun(services);
    await Promise.all([before, after, before, after].map((run) => run.csip.call("DescribeScanTaskList", { Filter: { Limit: 1, Offset: 0 } })));
    const gaps = leaving.slice(1).map((at, i) => at - leaving[i]!);
    // Under one budget no two leave together; two budgets would let a call of each go at once.
    expect(Math.min(...gaps)).toBeGreaterThan(250 / 2);
  });
});

describe("progress", () => {
  it("a run tells its progress callback of each inventory page, with the assets so far, and each task created", async () => {
    const config = parseConfig(
      `version: 1\nstate: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-progress-"))} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\npolicies:\n  - { name: p, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: 100 }\n`,
      "progress.yaml",
      envOf(),
    );
    const seen: Progress[] = [];
    const run = runWith(config, sdkClient(emulator), { progress: (p) => seen.push(p) });
    await runScheduledScan(run, { policy: "p", scheduledTime: new Date("2026-11-29T04:00:00Z"), trigger: "manual" });
    const walk = seen.filter((p) => p.step === "inventory");
    expect(walk.map((p) => p.pages)).toEqual(walk.map((_, i) => i + 1));
    expect(walk[0]!.assets).toBe(100);
    expect(walk.at(-1)!.assets).toBeGreaterThanOrEqual(150);
    expect(seen.filter((p) => p.step === "tasks").map((p) => p.tasks)).toEqual([1, 2]);
  });
});
