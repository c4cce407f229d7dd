import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../functions/asset-change/index.ts";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import type { CsipAction } from "../../shared/csip/actions.ts";
import { silentLogger } from "../../shared/log.ts";
import type { ResultsReport } from "../../shared/notify/results-report.ts";
import { FILTER_NAMES } from "../../local/emulator/filters.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { clockAt, sdkClient, useHandlerWorld, type startListener } from "../helpers.ts";
import runInstances from "../fixtures/events/eventbridge-run-instances.json" with { type: "json" };

// The three functions under each reading CSIP's documents leave open about its list filters (several
// values ORed, first-only or refused; a filter name refused or ignored; the task list oldest first):
// each gives the same tasks and the same results as under the reading the project was written to.

const web = (i: number): string => `ins-web${String(i).padStart(5, "0")}`;
const risky = (i: number): EstateAssetInput["risks"] =>
  i % 3 === 1
    ? [
        { kind: "vul", level: i % 2 ? "high" : "middle", name: `Curl bypass ${i}`, cve: "CVE-2023-27536" },
        { kind: "port", level: "middle", name: "redis", port: 6379 },
      ]
    : [];

// 60 CVMs, the first of each 50 without risks (a server answering the first value only returns nothing
// for it), risks on every third; two public IPs, the first without risks; one CVM whose scan fails.
const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 60 }, (_, i) => ({ kind: "cvm" as const, id: web(i), name: `web-${i}`, tags: { team: "web" }, risks: risky(i) })),
  { kind: "publicIp", id: "203.0.113.6", tags: { team: "web" } },
  { kind: "publicIp", id: "203.0.113.7", tags: { team: "web" }, risks: [{ kind: "port", level: "high", name: "ssh", port: 22 }] },
  { kind: "cvm", id: "ins-broken01", tags: { team: "web" }, scanError: "agent offline" },
];

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-readings-"));
let count = 0;
useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ emulator, hook } = w));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A policy file of one policy over the web estate, ten assets a task, every finding told. */
function policyFile(memory: boolean): void {
  const file = join(dir, `p${++count}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: UTC
state: ${memory ? "{ memory: true }" : `{ path: ${join(dir, `state-${count}`)} }`}
results: { checkEvery: 10m, giveUpAfter: 24h, topFindings: 50 }
assetChange: { syncUnknown: false }
notifiers:
  hook: { type: webhook, url: ${hook.url} }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port, poc], maxAssetsPerTask: 10, notify: [hook], notifyOn: [failure, results], onAssetChange: true, cooldown: 0s }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
}

/** Sets the emulated clock and the handlers' clock to `iso`. */
const at = (iso: string) => {
  emulator.state.now = clockAt(iso).now;
  return { logger: silentLogger(), clock: clockAt(iso) };
};

/** Tasks of another policy two days before, 101 in one second: a whole first page older than any look. */
async function olderTasks(): Promise<void> {
  at("2026-11-27T03:00:05Z");
  const csip = sdkClient(emulator, LOCAL_ACCOUNT);
  for (let i = 1; i <= 101; i++) {
    await csip.call("CreateRiskCenterScanTask", {
      TaskName: `csip-scan:other:20261127T030000Z:${i}`,
      ScanAssetType: 1,
      ScanItem: ["port"],
      ScanPlanType: 1,
      Assets: [{ Asset: web(0), AssetType: "Instance", InstanceType: "CVM" }],
    });
  }
}

/**
 * A scheduled run, one of its tasks deleted by hand, the results look, then an asset-change event
 * naming four known CVMs and one CSIP does not know: what a person would be told, without the IDs
 * that differ between runs.
 */
async function scenario(memory = false) {
  if (memory) await olderTasks();
  policyFile(memory);
  const scan = await scheduledScanHandler(at("2026-11-29T03:00:05Z"))({ Type: "Timer", TriggerName: "nightly", Time: "2026-11-29T03:00:00Z" }, {});
  emulator.state.tasks = emulator.state.tasks.filter((t) => !t.TaskName.endsWith("20261129T030000Z:3"));
  const results = await scanResultsHandler(at("2026-11-29T03:10:00Z"))({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {});
  const named = [web(3), web(4), "ins-nothere1", web(10), web(22)];
  const change = await assetChangeHandler(at("2026-11-29T04:00:00Z"))(
    { ...runInstances, id: "evt-readings", data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: named }) } },
    {},
  );
  const reports = hook.received.map((r) => JSON.parse(r.body) as ResultsReport).filter((b) => b.schema === "csip-scan.results/v1");
  const told = {
    scheduled: { ok: scan.ok, tasks: scan.runs.flatMap((r) => r.tasks.map((t) => [t.taskName, t.assets])), errors: scan.runs.flatMap((r) => r.errors) },
    results: {
      ok: results.ok,
      waiting: results.waiting,
      reports: reports.map((r) => ({
        status: r.status,
        riskCount: r.riskCount,
        findingsTotal: r.findingsTotal,
        findings: r.findings.map((f) => `${f.level} ${f.asset} ${f.name}`).sort(),
        tasks: r.tasks.map((t) => [t.taskName, t.status, t.assets, t.riskCount, t.error ?? "", t.reportUrl !== undefined]).sort(),
        missing: r.missing,
      })),
    },
    change: { ok: change.ok, unknown: change.unknownAssets, scanned: change.runs.flatMap((r) => r.tasks.map((t) => t.assets)), errors: change.errors },
  };
  return { told, summaries: { scan, results, change } };
}

/** Back to the documented reading, nothing remembered: the next scenario starts clean. */
async function clean(): Promise<void> {
  await emulator.settle();
  emulator.state.tasks = [];
  emulator.state.multiValueFilters = "ored";
  emulator.state.taskOrder = "newest-first";
  emulator.state.refusedFilters.clear();
  emulator.clearFaults();
  hook.received.length = 0;
}

/** What the scenario tells under the documented reading, with and without a durable store: read once, on first need. */
const documented = new Map<boolean, Awaited<ReturnType<typeof scenario>>["told"]>();
async function documentedTold(memory: boolean) {
  if (!documented.has(memory)) {
    await clean();
    documented.set(memory, (await scenario(memory)).told);
  }
  return documented.get(memory)!;
}

const EVERY_NAME = Object.entries(FILTER_NAMES).flatMap(([action, names]) => names.map((name) => `${action}.${name}`));

describe("the three functions under each filter reading", () => {
  it("under the documented reading: what the scenario tells (the baseline the others are held to)", async () => {
    await clean();
    const { told, summaries } = await scenario();
    documented.set(false, told);
    expect(told.scheduled.tasks).toHaveLength(7);
    expect(told.results.reports).toHaveLength(1);
    const [report] = told.results.reports;
    // 20 CVMs with two risks each and a public IP with one, less the three risky CVMs of the deleted
    // task (what it scanned is not known any more): it is "not found", the broken one failed.
    expect([report!.status, report!.findingsTotal, report!.findings.length]).toEqual(["failed", 35, 35]);
    expect(report!.tasks.map((t) => t[1])).toEqual(expect.arrayContaining(["not found", "failed", "done"]));
    expect(report!.tasks.filter((t) => t[1] === "done").every((t) => t[5])).toBe(true);
    expect(told.change).toEqual({ ok: true, unknown: ["ins-nothere1"], scanned: [4], errors: [] });
    expect(summaries.results.filterReadings).toEqual(
      // The order is told only where the run's tasks were not all made in one second.
      expect.arrayContaining([expect.objectContaining({ action: "DescribeScanTaskList", values: "ored", names: { TaskName: "honoured", TaskId: "honoured" }, source: "observed" })]),
    );
    expect(summaries.results.warnings).toEqual([]);
  });

  it.each<[string, (e: Emulator) => void, boolean, CsipAction | undefined, object]>([
    ["several values answered by the first only", (e) => void (e.state.multiValueFilters = "first-only"), false, "DescribeRiskCenterAssetViewVULRiskList", { values: "first-only" }],
    ["several values refused", (e) => void (e.state.multiValueFilters = "refused"), false, "DescribeScanTaskList", { values: "refused", refusalCode: "InvalidParameter" }],
    ["every filter name refused", (e) => EVERY_NAME.forEach((n) => e.state.refusedFilters.add(n)), false, "DescribeTaskLogList", { names: { TaskCenterTaskId: "refused" }, refusalCode: "InvalidParameterValue" }],
    ["every filter name ignored", (e) => EVERY_NAME.forEach((n) => e.state.ignoredFilters.add(n)), false, "DescribeRiskCenterAssetViewVULRiskList", { names: { InstanceId: "ignored", AffectAsset: "ignored" } }],
    ["the task list oldest first, told by the task list (no durable store)", (e) => void (e.state.taskOrder = "oldest-first"), true, "DescribeScanTaskList", { order: "oldest-first" }],
  ])("%s: the same tasks and the same results as under the documented reading, and the look says which reading it saw", async (_, set, memory, action, reading) => {
    const expected = await documentedTold(memory);
    await clean();
    set(emulator);
    const { told, summaries } = await scenario(memory);
    expect(told).toEqual(expected);
    expect([summaries.scan.ok, summaries.results.ok, summaries.change.ok]).toEqual([true, true, true]);
    // Once per action, and one warning for each way it is not the documented reading.
    const rows = summaries.results.filterReadings.filter((r) => r.action === action);
    expect(rows).toEqual([expect.objectContaining({ action, ...reading, source: "observed" })]);
    const names = Object.values((reading as { names?: object }).names ?? {}).length;
    expect(summaries.results.warnings.filter((w) => w.startsWith(`${action} `))).toHaveLength(Math.max(1, names));
  });
});
