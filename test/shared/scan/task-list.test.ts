import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { keepOldest, tasksByName } from "../../../shared/scan/task-list.ts";
import { sdkClient } from "../../helpers.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";

const MEMBER = "mem-0a1b2c3d4e5f6a7b";
let emulator: Emulator;
let csip: CsipClient;
beforeAll(async () => {
  emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-mem00001", memberId: MEMBER }, { kind: "cvm", id: "ins-own00001" }], rateLimit: false });
  csip = sdkClient(emulator);
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.calls.length = 0;
  emulator.clearFaults();
  emulator.state.tasks = [];
});

const NAME = "csip-scan:p:20261129T030000Z:1";

async function twoTasks(asset: string, memberIds?: string[]): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await csip.call("CreateRiskCenterScanTask", {
      TaskName: NAME,
      ScanAssetType: 1,
      ScanItem: ["port"],
      ScanPlanType: 1,
      Assets: [{ Asset: asset, AssetType: "Instance", InstanceType: "CVM" }],
      ...(memberIds ? { MemberId: memberIds } : {}),
    });
  }
}

describe("a member's duplicate tasks", () => {
  it("are found, stopped and deleted with the member's MemberId and each task's AppId as TargetAppId", async () => {
    await twoTasks("ins-mem00001", [MEMBER]);
    expect((await tasksByName(csip, NAME)).get(NAME)).toBeUndefined();
    const tasks = (await tasksByName(csip, NAME, [MEMBER])).get(NAME)!;
    expect(tasks).toHaveLength(2);
    const result = await keepOldest(csip, tasks, [MEMBER]);
    expect(result.failed).toEqual([]);
    expect(result.removed).toHaveLength(1);
    expect(emulator.callsOf("StopRiskCenterTask")[0]?.params).toMatchObject({ MemberId: [MEMBER] });
    expect(emulator.callsOf("DeleteRiskScanTask")[0]?.params).toEqual({ MemberId: [MEMBER], TaskIdList: [{ TaskId: result.removed[0], TargetAppId: tasks[0]!.AppId }] });
    expect((await tasksByName(csip, NAME, [MEMBER])).get(NAME)).toHaveLength(1);
  });
});

describe("which task of a name is kept", () => {
  /** Two tasks of NAME inserted at `times` (emulated time), as the task list reads them. */
  async function tasksAt(...times: string[]) {
    try {
      for (const at of times) {
        emulator.state.now = () => Date.parse(at);
        await csip.call("CreateRiskCenterScanTask", { TaskName: NAME, ScanAssetType: 1, ScanItem: ["port"], ScanPlanType: 1, Assets: [{ Asset: "ins-own00001", AssetType: "Instance", InstanceType: "CVM" }] });
      }
    } finally {
      emulator.state.now = Date.now;
    }
    return (await tasksByName(csip, NAME)).get(NAME)!;
  }

  it("two tasks inserted in the same second: the smaller TaskId, whichever is listed first", async () => {
    const tasks = await tasksAt("2026-11-29T03:00:04Z", "2026-11-29T03:00:04Z");
    const smaller = tasks.map((t) => t.TaskId!).sort()[0];
    for (const order of [tasks, [...tasks].reverse()]) expect((await keepOldest(csip, order)).kept.TaskId).toBe(smaller);
  });

  it("a task whose InsertTime is missing comes last: its age is unknown", async () => {
    const [older, newer] = await tasksAt("2026-11-29T03:00:01Z", "2026-11-29T03:00:09Z");
    const { InsertTime: _unknown, ...withoutTime } = older!;
    for (const order of [[withoutTime, newer!], [newer!, withoutTime]]) expect((await keepOldest(csip, order)).kept.TaskId).toBe(newer!.TaskId);
  });
});

describe("StopRiskCenterTask's Status", () => {
  it("a stop answered with a Status other than 0 did not stop the task: it is not deleted, and the failure says so", async () => {
    await twoTasks("ins-own00001");
    const tasks = (await tasksByName(csip, NAME)).get(NAME)!;
    emulator.inject("StopRiskCenterTask", { type: "answer", response: { Status: 1 } });
    const result = await keepOldest(csip, tasks);
    expect(result.removed).toEqual([]);
    expect(result.failed).toEqual([{ taskId: tasks[1]!.TaskId, message: expect.stringContaining("CSIP did not stop the task (Status 1)") }]);
    expect(emulator.callsOf("DeleteRiskScanTask")).toEqual([]);
  });
});
