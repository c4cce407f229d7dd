import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../shared/config/load.ts";
import { createCsipClient } from "../shared/csip/client.ts";
import { silentLogger } from "../shared/log.ts";
import { runScheduledScan } from "../shared/run/scheduled-scan.ts";
import { readEnvironment } from "../shared/env.ts";
import { createServices, startRun } from "../shared/run/services.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator, type RecordedCall } from "../local/emulator/server.ts";
import type { ReadingOptions } from "../local/emulator/switches.ts";
import { printTable } from "./report.ts";

/**
 * A run of 200 policies over an inventory of 20,000 assets, against the emulator enforcing CSIP's
 * 20 requests per second: the project's limiter, and a naive client with no limiter (same retries)
 * as the baseline, side by side.
 */
const POLICIES = 200;
const ASSETS = 20_000;
const LIMIT = 20;

function rate(calls: readonly RecordedCall[]): number {
  const ok = calls.filter((c) => c.outcome === "OK").map((c) => c.at).sort((a, b) => a - b);
  if (ok.length < 2) return 0;
  return (ok.length - 1) / ((ok[ok.length - 1]! - ok[0]!) / 1000);
}

async function once(perSecond: number, readings: ReadingOptions = {}): Promise<string[][]> {
  delete process.env.http_proxy;
  const emulator = await startEmulator({
    ...readings,
    // 200 teams of 100 hosts; each policy scans one team.
    estate: Array.from({ length: ASSETS }, (_, i) => ({ kind: "cvm" as const, id: `ins-b${String(i).padStart(7, "0")}`, tags: { team: `t${i % POLICIES}` } })),
    rateLimit: LIMIT,
  });
  try {
    const policies = Array.from({ length: POLICIES }, (_, i) => `  - { name: p${i}, schedule: "0 0 3 * * * *", targets: [t${i}], scanItems: [port] }`).join("\n");
    const groups = Array.from({ length: POLICIES }, (_, i) => `  t${i}: { include: [{ tags: { team: t${i} } }] }`).join("\n");
    const config = parseConfig(
      `version: 1\nrateLimit: { perSecond: ${perSecond}, marginMs: 20 }\nretry: { baseMs: 200, capMs: 5000, attempts: 10 }\n` +
        `state: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-bench-"))} }\nassetGroups:\n${groups}\npolicies:\n${policies}\n`,
      "bench.yaml",
      readEnvironment({}),
    );
    const sdk = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
    const run = startRun(createServices(config, readEnvironment({}), { sdk, logger: silentLogger() }));
    const time = new Date("2026-11-29T03:00:00Z");
    const started = Date.now();
    const summaries = await Promise.all(config.policies.map((p) => runScheduledScan(run, { policy: p.name, scheduledTime: time, trigger: "manual" })));
    const seconds = (Date.now() - started) / 1000;
    const failed = summaries.filter((s) => !s.ok).length;
    return ["DescribeCVMAssets", "DescribeScanTaskList", "CreateRiskCenterScanTask"].map((action) => {
      const calls = emulator.callsOf(action);
      return [
        action,
        String(calls.filter((c) => c.outcome === "OK").length),
        (rate(calls) / LIMIT).toFixed(3),
        String(calls.filter((c) => c.outcome.startsWith("RequestLimitExceeded")).length),
        String(calls.filter((c) => c.outcome !== "OK" && !c.outcome.startsWith("RequestLimitExceeded")).length),
        seconds.toFixed(1),
        String(failed),
      ];
    });
  } finally {
    await emulator.close();
  }
}

export async function benchRateLimit(): Promise<void> {
  const limited = await once(LIMIT);
  // 1000 per second is the largest the config allows: in effect no limiter.
  const naive = await once(1000);
  // The filter readings the documents leave open (local/emulator/switches.ts): a scheduled run sends one
  // value a filter, so several values answered by the first only cost nothing; a refused TaskName filter
  // makes each look for a run's tasks read the task list whole.
  const firstOnly = await once(LIMIT, { multiValueFilters: "first-only" });
  const refused = await once(LIMIT, { refusedFilters: ["DescribeScanTaskList.TaskName"] });
  printTable(
    `rate limit: ${POLICIES} policies, ${ASSETS} assets, emulator enforcing ${LIMIT}/s per action`,
    ["client / action", "calls ok", "rate / limit", "RequestLimitExceeded", "other failures", "run s", "failed policies"],
    [
      ...limited.map(([a, ...r]) => [`limited  ${a}`, ...r]),
      ...naive.map(([a, ...r]) => [`naive    ${a}`, ...r]),
      ...firstOnly.map(([a, ...r]) => [`limited, several values first-only  ${a}`, ...r]),
      ...refused.map(([a, ...r]) => [`limited, TaskName refused  ${a}`, ...r]),
    ],
  );
}
