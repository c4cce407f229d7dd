import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ASSET_KINDS } from "../../../shared/assets/kinds.ts";
import { PolicySchema } from "../../../shared/config/schema.ts";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { removeDuplicateTasks } from "../../../shared/results/duplicates.ts";
import { runsFromTaskList } from "../../../shared/results/open-runs.ts";
import { planScanTasks } from "../../../shared/scan/requests.ts";
import { scheduledRunNames } from "../../../shared/state/keys.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { sdkClient } from "../../helpers.ts";

// Duplicate tasks as the scan-results look finds them in CSIP's task list: the oldest of a name is kept.

let emulator: Emulator;
let csip: CsipClient;
beforeAll(async () => {
  emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-dup00001", tags: { env: "prod" } }, { kind: "cvm", id: "ins-dup00002", tags: { env: "prod" }, memberId: "200000000001" }], rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 3_600_000 } });
  csip = sdkClient(emulator);
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.state.tasks = [];
  emulator.calls.length = 0;
});

const SLOT = new Date("2026-11-29T03:00:00Z");
const MEMBER = "200000000001";
const policy = PolicySchema.parse({ name: "nightly", schedule: "0 0 3 * * * *", scanItems: ["port"], targets: ["prod"] });
/** The same policy over a member account: CSIP lists, stops and deletes a member's task only for calls naming it. */
const memberPolicy = { ...policy, memberIds: [MEMBER] };
const asset = ASSET_KINDS.cvm.fromItem({ AssetId: "ins-dup00001", AssetName: "web", AssetType: "CVM", Region: "ap-guangzhou" })!;
const memberAsset = ASSET_KINDS.cvm.fromItem({ AssetId: "ins-dup00002", AssetName: "web", AssetType: "CVM", Region: "ap-guangzhou" })!;

/** Makes the run's chunk-1 task through the SDK at emulated time `at` (CSIP's InsertTime has whole seconds). */
async function createAt(at: string, slot = SLOT, of = policy): Promise<string> {
  emulator.state.now = () => Date.parse(at);
  const [planned] = planScanTasks(of, [of === policy ? asset : memberAsset], scheduledRunNames("nightly", slot).taskName);
  const answer = await csip.call("CreateRiskCenterScanTask", planned!.request);
  return answer.TaskId!;
}

async function listed(scopes: (readonly string[] | undefined)[] = [undefined]) {
  emulator.state.now = () => Date.parse("2026-11-29T03:30:00Z");
  return (await runsFromTaskList(csip, Date.parse("2026-11-28T00:00:00Z"), scopes)).tasks.values();
}

describe("removeDuplicateTasks", () => {
  it("keeps the oldest whatever the order CSIP lists them in, stops the running others and deletes them, with the policy's MemberId", async () => {
    const middle = await createAt("2026-11-29T03:00:05Z", SLOT, memberPolicy);
    const oldest = await createAt("2026-11-29T03:00:01Z", SLOT, memberPolicy);
    const newest = await createAt("2026-11-29T03:00:09Z", SLOT, memberPolicy);
    const alone = await createAt("2026-11-29T03:00:02Z", new Date("2026-11-28T03:00:00Z"), memberPolicy);
    const removals = await removeDuplicateTasks(csip, await listed([[MEMBER]]), (name) => (name === "nightly" ? [MEMBER] : undefined));
    expect(removals).toEqual([{ taskName: "csip-scan:nightly:20261129T030000Z:1", kept: oldest, removed: expect.arrayContaining([middle, newest]), failed: [] }]);
    expect(emulator.state.tasks.map((t) => t.TaskId).sort()).toEqual([oldest, alone].sort());
    const sorted = (values: unknown[]) => values.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(sorted(emulator.callsOf("StopRiskCenterTask").map((c) => c.params))).toEqual(sorted([middle, newest].map((id) => ({ TaskIdList: [{ TaskId: id }], MemberId: [MEMBER] }))));
    // The delete also names each task's AppId as TargetAppId, as the DeleteRiskScanTask example does.
    const deletes = emulator.callsOf("DeleteRiskScanTask").map((c) => c.params as { TaskIdList: { TaskId: string; TargetAppId?: string }[]; MemberId?: string[] });
    expect(sorted(deletes.map((d) => ({ ...d, TaskIdList: d.TaskIdList.map(({ TaskId }) => ({ TaskId })) })))).toEqual(sorted([middle, newest].map((id) => ({ TaskIdList: [{ TaskId: id }], MemberId: [MEMBER] }))));
    expect(deletes.every((d) => d.TaskIdList.every((k) => typeof k.TargetAppId === "string" && k.TargetAppId.length > 0))).toBe(true);
  });

  it("two tasks inserted in the same second: the smaller TaskId is kept, on every look", async () => {
    const ids = [await createAt("2026-11-29T03:00:04Z"), await createAt("2026-11-29T03:00:04Z")];
    const [removal] = await removeDuplicateTasks(csip, await listed(), () => undefined);
    const [smaller, larger] = [...ids].sort();
    expect(removal).toEqual({ taskName: "csip-scan:nightly:20261129T030000Z:1", kept: smaller, removed: [larger], failed: [] });
  });

  it("a task whose InsertTime is missing is not the one kept: its age is unknown", async () => {
    const older = await createAt("2026-11-29T03:00:01Z");
    const newer = await createAt("2026-11-29T03:00:09Z");
    const tasks = [...(await listed())].map((t) => {
      if (t.taskId !== older) return t;
      const { insertedAt: _unknown, ...withoutTime } = t;
      return withoutTime;
    });
    const [removal] = await removeDuplicateTasks(csip, tasks, () => undefined);
    expect(removal).toEqual({ taskName: "csip-scan:nightly:20261129T030000Z:1", kept: newer, removed: [older], failed: [] });
  });

  it.each([
    ["an ended duplicate whose stop CSIP refuses is still deleted", 0, [true]],
    ["a running duplicate whose stop CSIP refuses is not deleted, and the removal says why", 3_600_000, [false]],
  ] as const)("%s; a policy without members sends no MemberId", async (_, scanningMs, deleted) => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs };
    try {
      const oldest = await createAt("2026-11-29T03:00:01Z");
      const other = await createAt("2026-11-29T03:00:03Z");
      emulator.inject("StopRiskCenterTask", { type: "error", code: "InvalidParameter", message: "the task has ended" });
      const [removal] = await removeDuplicateTasks(csip, await listed(), () => undefined);
      expect(emulator.callsOf("StopRiskCenterTask").map((c) => c.params)).toEqual([{ TaskIdList: [{ TaskId: other }] }]);
      expect([emulator.state.tasks.some((t) => t.TaskId === other) === false]).toEqual(deleted);
      expect(removal).toEqual(
        deleted[0]
          ? { taskName: "csip-scan:nightly:20261129T030000Z:1", kept: oldest, removed: [other], failed: [] }
          : { taskName: "csip-scan:nightly:20261129T030000Z:1", kept: oldest, removed: [], failed: [{ taskId: other, message: expect.stringContaining("InvalidParameter") }] },
      );
    } finally {
      emulator.state.scanTiming = { queuedMs: 0, scanningMs: 3_600_000 };
    }
  });
});
