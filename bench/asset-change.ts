import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../shared/config/load.ts";
import { createCsipClient } from "../shared/csip/client.ts";
import { readEnvironment } from "../shared/env.ts";
import { parseAssetChangeDelivery } from "../shared/events/delivery.ts";
import { silentLogger } from "../shared/log.ts";
import { runAssetChange } from "../shared/run/asset-change.ts";
import { runScheduledScan } from "../shared/run/scheduled-scan.ts";
import { createServices, startRun } from "../shared/run/services.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator } from "../local/emulator/server.ts";
import { median, printTable } from "./report.ts";

/**
 * A single-asset change event against an inventory of 20,000 assets, with the emulator enforcing
 * 20 requests per second: the time from the event to the CreateRiskCenterScanTask request, and the
 * inventory calls made, against the scheduled path (which walks the inventory) in the same run.
 */
const ASSETS = 20_000;
const RUNS = 5;

export async function benchAssetChange(): Promise<void> {
  delete process.env.http_proxy;
  const emulator = await startEmulator({
    estate: Array.from({ length: ASSETS }, (_, i) => ({ kind: "cvm" as const, id: `ins-c${String(i).padStart(7, "0")}`, tags: { env: i % 2 ? "prod" : "dev" } })),
  });
  try {
    const config = parseConfig(
      `version: 1\nstate: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-bench-change-"))} }\n` +
        `assetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: on-change, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], onAssetChange: true, maxAssetsPerTask: 10000 }\n`,
      "bench.yaml",
      readEnvironment({}),
    );
    const sdk = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
    const services = createServices(config, readEnvironment({}), { sdk, logger: silentLogger() });
    const measure = async (run: () => Promise<unknown>) => {
      emulator.calls.length = 0;
      const started = Date.now();
      await run();
      const create = emulator.callsOf("CreateRiskCenterScanTask")[0];
      // The limiter keeps one-second windows per action: let them pass between measurements.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      return { ms: (create?.at ?? Date.now()) - started, inventoryCalls: emulator.calls.filter((c) => c.action.startsWith("Describe") && c.action.endsWith("Assets")).length };
    };
    const event = (i: number) => ({
      specversion: "1.0",
      id: `bench-${i}`,
      type: "cvm:CloudEvent:ApiCall",
      source: "cvm.cloud.tencent",
      data: { eventName: "RunInstances", responseElements: { InstanceIdSet: [`ins-c${String(2 * i + 1).padStart(7, "0")}`] } },
    });
    const change = [];
    const walk = [];
    for (let i = 0; i < RUNS; i++) {
      change.push(await measure(() => runAssetChange(startRun(services), parseAssetChangeDelivery(event(i)))));
      walk.push(
        await measure(() =>
          runScheduledScan(startRun(services), { policy: "on-change", scheduledTime: new Date(Date.UTC(2026, 0, 1, i)), trigger: "manual" }),
        ),
      );
    }
    const row = (name: string, samples: { ms: number; inventoryCalls: number }[], base: number) => {
      const ms = median(samples.map((s) => s.ms));
      return [name, ms.toFixed(0), String(median(samples.map((s) => s.inventoryCalls))), (ms / base).toFixed(4)];
    };
    const baseMs = median(walk.map((s) => s.ms));
    printTable(
      `asset change: one changed asset in an inventory of ${ASSETS}, emulator at 20 requests/s, median of ${RUNS}`,
      ["path", "event to task request ms", "inventory calls", "time vs walk"],
      [row("asset-change (lookup)", change, baseMs), row("scheduled (walk, baseline)", walk, baseMs)],
    );
  } finally {
    await emulator.close();
  }
}
