import { lookupAssets } from "../shared/assets/lookup.ts";
import { ALL_ACTIONS, type CsipAction } from "../shared/csip/actions.ts";
import { createCsipClient, type CsipClient } from "../shared/csip/client.ts";
import { tellFilterReadings, type ValuesReading } from "../shared/csip/filter-readings.ts";
import { currentFindings } from "../shared/results/findings.ts";
import { reportLinks } from "../shared/results/reports.ts";
import { taskStates } from "../shared/results/task-states.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { FILTER_NAMES } from "../local/emulator/filters.ts";
import { startEmulator, type Emulator } from "../local/emulator/server.ts";
import { printTable } from "./report.ts";

/**
 * Following open tasks: DescribeScanTaskList calls to read the state of 100 open tasks, by TaskId in
 * batches (the project), against one call per task (the baseline), and the time each takes.
 */
const TASKS = 100;

export async function benchResults(): Promise<void> {
  delete process.env.http_proxy;
  const emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-bench001" }], rateLimit: false });
  try {
    const csip = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const made = await csip.call("CreateRiskCenterScanTask", { TaskName: `bench-${i}`, ScanAssetType: 1, ScanItem: ["port"], ScanPlanType: 1, Assets: [{ Asset: "ins-bench001", AssetType: "Instance", InstanceType: "CVM" }] });
      ids.push(made.TaskId!);
    }
    const measure = async (read: () => Promise<number>) => {
      emulator.calls.length = 0;
      const started = performance.now();
      const calls = await read();
      return { calls, ms: performance.now() - started };
    };
    const batched = await measure(async () => (await taskStates(csip, ids)).calls);
    const oneByOne = await measure(async () => {
      for (const id of ids) await taskStates(csip, [id]);
      return emulator.callsOf("DescribeScanTaskList").length;
    });
    printTable(
      `reading the state of ${TASKS} open tasks (DescribeScanTaskList)`,
      ["reads", "calls", "calls vs baseline", "ms", "time vs baseline"],
      [
        ["by TaskId, 100 a call (project)", String(batched.calls), (batched.calls / oneByOne.calls).toFixed(2), batched.ms.toFixed(0), (batched.ms / oneByOne.ms).toFixed(3)],
        ["one call per task (baseline)", String(oneByOne.calls), "1.00", oneByOne.ms.toFixed(0), "1.000"],
      ],
    );
  } finally {
    await emulator.close();
  }
  await benchFilterReadings();
}

/**
 * What checking every filtered answer costs: a results look's reads of a run of 150 tasks over 1,000
 * CVMs (task states, report links, the four risk lists by InstanceId) and an asset-change lookup of 50
 * IDs (5 unknown), under each reading of a filter with several values, against a client told up front
 * that the account ORs (the calls trusting the documented reading would make: the baseline). Every row
 * must find the same: 150 tasks, 150 report links, every finding, 45 assets.
 */
const CVMS = 1_000;
const RUN_TASKS = 150;

async function readingsOnce(emulator: Emulator, trust: boolean): Promise<{ calls: Record<string, number>; found: string }> {
  const csip: CsipClient = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
  if (trust) tellFilterReadings(csip, Object.fromEntries(ALL_ACTIONS.map((a) => [a, { values: "ored" satisfies ValuesReading }])) as Partial<Record<CsipAction, { values: ValuesReading }>>);
  const ids = emulator.state.tasks.map((t) => t.TaskId);
  const assets = emulator.state.estate.map((a) => a.id);
  const named = [...assets.filter((_, i) => i % 20 === 7).slice(0, 45), ...Array.from({ length: 5 }, (_, i) => `ins-unknown${i}`)];
  const calls: Record<string, number> = {};
  const step = async (name: string, read: () => Promise<unknown>) => {
    emulator.calls.length = 0;
    await read();
    calls[name] = emulator.calls.length;
  };
  let found = "";
  await step("task states", async () => (found += `${[...(await taskStates(csip, ids)).tasks.values()].filter((t) => t.state === "done").length} tasks`));
  await step("report links", async () => (found += `, ${(await reportLinks(csip, ids)).links.size} links`));
  await step("risk lists", async () => (found += `, ${(await currentFindings(csip, { assets, typedIn: [], everything: false })).total} findings`));
  await step("lookup", async () => (found += `, ${(await lookupAssets(csip, named)).found.size} assets`));
  return { calls, found };
}

export async function benchFilterReadings(): Promise<void> {
  const emulator = await startEmulator({
    estate: Array.from({ length: CVMS }, (_, i) => ({
      kind: "cvm" as const,
      id: `ins-r${String(i).padStart(7, "0")}`,
      risks: i % 3 === 1 ? [{ kind: "vul" as const, level: "high" as const, name: `vul ${i}` }, { kind: "port" as const, level: "middle" as const, name: "redis", port: 6379 }] : [],
    })),
    rateLimit: false,
    scanTiming: { queuedMs: 0, scanningMs: 0 },
  });
  try {
    const csip = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
    const perTask = Math.floor(CVMS / RUN_TASKS);
    for (let i = 0; i < RUN_TASKS; i++) {
      const assets = emulator.state.estate.slice(i * perTask, i === RUN_TASKS - 1 ? undefined : (i + 1) * perTask).map((a) => ({ Asset: a.id, AssetType: "Instance", InstanceType: "CVM" }));
      await csip.call("CreateRiskCenterScanTask", { TaskName: `csip-scan:bench:20261129T030000Z:${i + 1}`, ScanAssetType: 1, ScanItem: ["port"], ScanPlanType: 1, Assets: assets });
    }
    const rows: [string, Awaited<ReturnType<typeof readingsOnce>>][] = [];
    rows.push(["ORed, told up front (baseline)", await readingsOnce(emulator, true)]);
    rows.push(["ORed (documented), checked", await readingsOnce(emulator, false)]);
    emulator.state.multiValueFilters = "first-only";
    rows.push(["first value only, checked", await readingsOnce(emulator, false)]);
    emulator.state.multiValueFilters = "refused";
    rows.push(["several values refused, checked", await readingsOnce(emulator, false)]);
    emulator.state.multiValueFilters = "ored";
    for (const [action, names] of Object.entries(FILTER_NAMES)) for (const name of names) emulator.state.refusedFilters.add(`${action}.${name}`);
    rows.push(["every filter name refused", await readingsOnce(emulator, false)]);
    const base = rows[0]![1].calls;
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    printTable(
      `filter readings: a results look of ${RUN_TASKS} tasks over ${CVMS} CVMs and a lookup of 50 IDs; calls per read, and extra calls against trusting the documented reading`,
      ["reading", ...Object.keys(base), "all", "extra", "ratio", "found"],
      rows.map(([name, r]) => [name, ...Object.values(r.calls).map(String), String(total(r.calls)), String(total(r.calls) - total(base)), (total(r.calls) / total(base)).toFixed(2), r.found]),
    );
  } finally {
    await emulator.close();
  }
}
