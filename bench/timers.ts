import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InventoryCache } from "../shared/assets/inventory.ts";
import { parseConfig } from "../shared/config/load.ts";
import { createCsipClient, type CsipClient } from "../shared/csip/client.ts";
import { readEnvironment } from "../shared/env.ts";
import { silentLogger } from "../shared/log.ts";
import { runScheduledScan } from "../shared/run/scheduled-scan.ts";
import { createServices, startRun } from "../shared/run/services.ts";
import { runTimer } from "../shared/run/timer-run.ts";
import { timerName } from "../shared/state/keys.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../local/emulator/server.ts";
import { printTable } from "./report.ts";

/**
 * One timer per schedule, measured:
 * - a walk of 20,000 CVMs with every emulated call taking 150 ms: pages requested together once the first
 *   gives the total (the project), against one page after another (the walk before), as a fraction of
 *   CSIP's 20 calls per second;
 * - 50 policies on one schedule: one timer invocation sharing one walk, against one walk per policy.
 */
const ASSETS = 20_000;
const LATENCY_MS = 150;
const LIMIT = 20;
const POLICIES = 50;
/** The shared-walk figure counts calls, not time: a smaller estate and no limit keep it quick. */
const SHARED_ASSETS = 2_000;

function config(policies: number, perSecond = LIMIT) {
  const list = Array.from({ length: policies }, (_, i) => `  - { name: p${i}, schedule: "0 0 3 * * * *", targets: [t${i % 10}], scanItems: [port], notifyOn: [] }`);
  const groups = Array.from({ length: 10 }, (_, i) => `  t${i}: { include: [{ tags: { team: t${i} } }] }`);
  return parseConfig(
    `version: 1\ntimezone: UTC\nrateLimit: { perSecond: ${perSecond}, marginMs: 20 }\nstate: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-bench-timer-"))} }\n` +
      `assetGroups:\n${groups.join("\n")}\npolicies:\n${list.join("\n")}\n`,
    "bench.yaml",
    readEnvironment({}),
  );
}

/** The walk before: one page after another, through the same limited, retrying client. */
async function walkOneAfterAnother(csip: CsipClient): Promise<number> {
  let calls = 0;
  for (let page = 0; ; page++) {
    calls++;
    const answer = await csip.call("DescribeCVMAssets", { Filter: { Limit: 100, Offset: page * 100 } });
    if ((answer.Data ?? []).length < 100) return calls;
  }
}

async function walks(emulator: Emulator): Promise<string[][]> {
  const sdk = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
  const services = createServices(config(1), readEnvironment({}), { sdk, logger: silentLogger() });
  const measure = async (walk: (csip: CsipClient) => Promise<number>): Promise<{ calls: number; seconds: number }> => {
    emulator.clearFaults();
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: LATENCY_MS }, 1000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const started = performance.now();
    const calls = await walk(startRun(services).csip);
    return { calls, seconds: (performance.now() - started) / 1000 };
  };
  const sequential = await measure(walkOneAfterAnother);
  const concurrent = await measure(async (csip) => {
    const cache = new InventoryCache(csip);
    await cache.load(["cvm"]);
    return cache.calls;
  });
  const row = (name: string, m: { calls: number; seconds: number }, base: number): string[] => {
    const rate = m.calls / m.seconds;
    return [name, String(m.calls), m.seconds.toFixed(1), (rate / LIMIT).toFixed(2), (rate / base).toFixed(2)];
  };
  const base = sequential.calls / sequential.seconds;
  return [row("pages together (project)", concurrent, base), row("one after another (baseline)", sequential, base)];
}

async function sharedWalk(emulator: Emulator): Promise<string[][]> {
  const sdk = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
  const cfg = config(POLICIES, 1000);
  const services = createServices(cfg, readEnvironment({}), { sdk, logger: silentLogger() });
  const count = async (run: () => Promise<unknown>): Promise<number> => {
    emulator.calls.length = 0;
    emulator.state.tasks = [];
    await run();
    return emulator.callsOf("DescribeCVMAssets").length;
  };
  const shared = await count(() => runTimer(startRun(services), { Type: "Timer", TriggerName: timerName("0 0 3 * * * *"), Time: "2026-11-29T03:00:00Z" }));
  const perPolicy = await count(() =>
    Promise.all(cfg.policies.map((p) => runScheduledScan(startRun(services), { policy: p.name, scheduledTime: new Date("2026-11-30T03:00:00Z"), trigger: "timer" }))),
  );
  return [
    ["one timer, one shared walk (project)", String(shared), (shared / perPolicy).toFixed(3)],
    ["one walk per policy (baseline)", String(perPolicy), "1.000"],
  ];
}

const estate = (n: number) => Array.from({ length: n }, (_, i) => ({ kind: "cvm" as const, id: `ins-w${String(i).padStart(7, "0")}`, tags: { team: `t${i % 10}` } }));

export async function benchTimers(): Promise<void> {
  delete process.env.http_proxy;
  const limited = await startEmulator({ estate: estate(ASSETS), rateLimit: LIMIT });
  try {
    printTable(
      `inventory walk: ${ASSETS} CVMs in pages of 100, every call ${LATENCY_MS} ms, limiter at ${LIMIT}/s`,
      ["walk", "calls", "seconds", "rate / limit", "rate vs baseline"],
      await walks(limited),
    );
  } finally {
    await limited.close();
  }
  const open = await startEmulator({ estate: estate(SHARED_ASSETS), rateLimit: false });
  try {
    printTable(`${POLICIES} policies on one schedule, ${SHARED_ASSETS} CVMs: inventory list calls`, ["runs", "DescribeCVMAssets calls", "vs baseline"], await sharedWalk(open));
  } finally {
    await open.close();
  }
}
