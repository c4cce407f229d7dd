import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { taskStates, taskStatesOfRuns } from "../../../shared/results/task-states.ts";
import { memberIdsOf, runsFromTaskList, type OpenRun } from "../../../shared/results/open-runs.ts";
import { parseConfig } from "../../../shared/config/load.ts";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { envOf, sdkClient } from "../../helpers.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";

const MEMBER = "mem-0a1b2c3d4e5f6a7b";
let emulator: Emulator;
let csip: CsipClient;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: [
      { kind: "cvm", id: "ins-own00001" },
      { kind: "cvm", id: "ins-mem00001", memberId: MEMBER },
    ],
    rateLimit: false,
  });
  csip = sdkClient(emulator);
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.calls.length = 0;
  emulator.clearFaults();
  emulator.state.tasks = [];
});

async function createTasks(count: number, asset: string, memberIds?: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const made = await csip.call("CreateRiskCenterScanTask", {
      TaskName: `csip-scan:p:20261129T030000Z:${i + 1}`,
      ScanAssetType: 1,
      ScanItem: ["port"],
      ScanPlanType: 1,
      Assets: [{ Asset: asset, AssetType: "Instance", InstanceType: "CVM" }],
      ...(memberIds ? { MemberId: memberIds } : {}),
    });
    ids.push(made.TaskId!);
  }
  return ids;
}

describe("taskStates", () => {
  it("reads all 150 tasks of a run by TaskId, 100 a call", async () => {
    const ids = await createTasks(150, "ins-own00001");
    const read = await taskStates(csip, ids);
    expect([...read.tasks.values()].filter((t) => t.state === "not found")).toEqual([]);
    expect(read.calls).toBe(2);
    expect(read.warnings).toEqual([]);
  });

  it("reads all 150 tasks of a run while the stand-in ignores the TaskId filter, and says so once", async () => {
    const ids = await createTasks(150, "ins-own00001");
    // Tasks of another run, newer: what an ignored filter puts first.
    await createTasks(30, "ins-own00001");
    emulator.ignoreFilter("DescribeScanTaskList", "TaskId");
    const read = await taskStates(csip, ids);
    expect([...read.tasks.keys()].sort()).toEqual([...ids].sort());
    expect([...read.tasks.values()].filter((t) => t.state === "not found")).toEqual([]);
    expect(read.warnings).toEqual(["DescribeScanTaskList ignored the filter TaskId: the list was read to its end and matched here"]);
  });

  it("a member's task is read with its MemberId; without it, the emulator does not list it", async () => {
    const [own] = await createTasks(1, "ins-own00001");
    const [member] = await createTasks(1, "ins-mem00001", [MEMBER]);
    expect((await taskStates(csip, [member!])).tasks.get(member!)?.state).toBe("not found");
    const read = await taskStatesOfRuns(csip, [{ taskIds: [own!] }, { taskIds: [member!], memberIds: [MEMBER] }]);
    expect(read.tasks.get(own!)?.state).not.toBe("not found");
    expect(read.tasks.get(member!)?.state).not.toBe("not found");
    expect(emulator.callsOf("DescribeScanTaskList").at(-1)?.params.MemberId).toEqual([MEMBER]);
  });

  it.each([
    [5, "paused"],
    [6, "restarted"],
  ])("ScanStatus %i reads as %s, not ended", async (status, state) => {
    const [id] = await createTasks(1, "ins-own00001");
    emulator.inject("DescribeScanTaskList", { type: "answer", response: { TotalCount: 1, Data: [{ TaskId: id, TaskName: "x", ScanStatus: status }] } });
    expect((await taskStates(csip, [id!])).tasks.get(id!)).toMatchObject({ state, ended: false });
  });
});

describe("runsFromTaskList", () => {
  it("reads on past a page smaller than asked, to the TotalCount: all 150 tasks of a run", async () => {
    const ids = await createTasks(150, "ins-own00001");
    // The real SDK against the emulator, asking for 40 rows whatever the Limit: pages smaller than asked.
    const small: CsipClient = {
      call: (action, request) => csip.call(action, { ...request, Filter: { ...(request as { Filter?: object }).Filter, Limit: 40 } } as never),
    };
    const read = await runsFromTaskList(small, 0);
    expect(read.runs).toHaveLength(1);
    expect([...read.runs[0]!.taskIds].sort()).toEqual([...ids].sort());
  });

  it("a member's task listed by two overlapping scopes (policies sharing a member) is one task of its run", async () => {
    const [id] = await createTasks(1, "ins-mem00001", [MEMBER]);
    const read = await runsFromTaskList(csip, 0, [[MEMBER], [MEMBER, "mem-ffffffffffffffff"]]);
    expect(read.runs.map((r) => r.taskIds)).toEqual([[id]]);
  });
});

describe("an open run's member scope", () => {
  it("is the one its tasks were made in, whatever the policy file says now", async () => {
    const [id] = await createTasks(1, "ins-mem00001", [MEMBER]);
    // The policy no longer names the member: read in the file's scope, the task would be "not found".
    const config = parseConfig(`version: 1\npolicies:\n  - { name: p, schedule: "0 0 3 * * * *", urls: [a.example.com], scanItems: [port] }\n`, "p.yaml", envOf());
    const open: OpenRun = { run: "run/p", policy: "p", trigger: "timer", scheduledTime: "2026-11-29T03:00:00.000Z", taskIds: [id!], createdAt: 0, memberIds: [MEMBER] };
    const remembered = await taskStatesOfRuns(csip, [{ taskIds: open.taskIds, memberIds: memberIdsOf(config, open) }]);
    expect(remembered.tasks.get(id!)?.state).not.toBe("not found");
    const asTheFileSays = await taskStatesOfRuns(csip, [{ taskIds: open.taskIds, memberIds: memberIdsOf(config, { policy: "p" }) }]);
    expect(asTheFileSays.tasks.get(id!)?.state).toBe("not found");
  });
});
