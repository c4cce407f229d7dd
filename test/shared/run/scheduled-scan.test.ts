import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/load.ts";
import { silentLogger } from "../../../shared/log.ts";
import { runScheduledScan, walkTookTooLong } from "../../../shared/run/scheduled-scan.ts";
import { createServices, startRun } from "../../../shared/run/services.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { envOf, sdkClient } from "../../helpers.ts";

describe("walkTookTooLong", () => {
  it.each([
    [400_000, 900_000, undefined],
    [450_000, 900_000, undefined],
    [451_000, 900_000, "the inventory walk took 451 s of the 900 s the run had"],
  ])("a walk of %i ms in a run of %i ms: %s", (walkMs, budgetMs, warning) => {
    const said = walkTookTooLong(walkMs, budgetMs);
    if (warning === undefined) expect(said).toBeUndefined();
    else expect(said).toContain(warning);
  });
});

describe("a scheduled run's time budget", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-budget-"));
  beforeAll(async () => {
    emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-slow0001", tags: { env: "prod" } }], rateLimit: false });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps its phase times and warns when the walk used more than half the time the run had", async () => {
    const config = parseConfig(
      `version: 1\ntimeouts: { reserveSeconds: 0 }\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: slow, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }\n`,
      "budget.yaml",
      envOf(),
    );
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 700 });
    const run = startRun(createServices(config, envOf(), { sdk: sdkClient(emulator), logger: silentLogger() }), 1_200);
    const summary = await runScheduledScan(run, { policy: "slow", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "manual", dryRun: true });
    expect(summary.warnings.some((w) => w.startsWith("the inventory walk took"))).toBe(true);
  });
});
