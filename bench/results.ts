import { createCsipClient } from "../shared/csip/client.ts";
import { taskStates } from "../shared/results/task-states.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator } from "../local/emulator/server.ts";
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
}
