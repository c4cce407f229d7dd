import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../functions/asset-change/index.ts";
import { EventError, RunFailedError } from "../../shared/errors.ts";
import { silentLogger } from "../../shared/log.ts";
import { FileStateStore } from "../../shared/state/store.ts";
import * as z from "zod";
import type { Emulator } from "../../local/emulator/server.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import { caught, expectOnlyTypedErrors, useHandlerWorld, type startListener } from "../helpers.ts";
import ckafka from "../fixtures/events/ckafka.json" with { type: "json" };
import cmq from "../fixtures/events/cmq-topic.json" with { type: "json" };
import runInstances from "../fixtures/events/eventbridge-run-instances.json" with { type: "json" };
import tagAttach from "../fixtures/events/eventbridge-tag-attach.json" with { type: "json" };
import unknownType from "../fixtures/events/eventbridge-unknown-type.json" with { type: "json" };

const ESTATE: EstateAssetInput[] = [
  { kind: "cvm", id: "ins-new00001", name: "new-web", tags: { env: "prod", tier: "web" } },
  { kind: "cvm", id: "ins-old00001", name: "old-web", tags: { env: "prod", tier: "web" } },
  { kind: "cvm", id: "ins-stage001", name: "stage", tags: { env: "staging" } },
  { kind: "cvm", id: "ins-lonely01", name: "lonely", tags: { env: "dev" } },
  { kind: "cvm", id: "ins-unauth01", name: "rogue", tags: { env: "prod", tier: "web" }, authorized: false },
  ...Array.from({ length: 50 }, (_, i) => ({ kind: "cvm" as const, id: `ins-batch${String(i).padStart(3, "0")}`, tags: { env: "prod", tier: "web" } })),
];

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-change-"));
let count = 0;

function handler(extra = "") {
  const file = join(dir, `p${++count}.yaml`);
  writeFileSync(
    file,
    `version: 1
state: { path: ${join(dir, `state-${count}`)} }
assetChange: { syncUnknown: true, syncWaitSeconds: 3 }
${extra}
notifiers:
  hook: { type: webhook, url: "${hook.url}" }
assetGroups:
  prod-web: { include: [{ tags: { env: prod, tier: web } }] }
  staging: { include: [{ tags: { env: staging } }] }
policies:
  - { name: prod-on-change, schedule: "0 0 3 * * * *", targets: [prod-web], scanItems: [port, poc], onAssetChange: true, notify: [hook] }
  - { name: staging-on-change, schedule: "0 0 4 * * * *", targets: [staging], scanItems: [port], onAssetChange: true }
  - { name: nightly-only, schedule: "0 0 5 * * * *", targets: [prod-web], scanItems: [port] }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return assetChangeHandler({ logger: silentLogger() });
}

const creates = () => emulator.callsOf("CreateRiskCenterScanTask").map((c) => c.params as { TaskName: string; Assets: { Asset: string }[] });
const event = (id: string, instanceIds: string[]) => ({
  ...runInstances,
  id,
  data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: instanceIds }) },
});

useHandlerWorld(ESTATE, { rateLimit: false }, (world) => ({ emulator, hook } = world));

describe("asset-change main_handler", () => {
  it.each<[string, unknown]>([
    ["EventBridge", runInstances],
    ["CMQ topic", cmq],
    ["CKafka", ckafka],
  ])("%s: a new tagged instance is scanned by the matching policy only, found by a lookup", async (_, delivery) => {
    const summary = await handler()(delivery, {});
    expect(summary).toMatchObject({ events: 1, handled: 1, assets: ["ins-new00001"], unknownAssets: [], ok: true });
    expect(summary.runs.map((r) => r.policy)).toEqual(["prod-on-change"]);
    expect(creates()).toEqual([expect.objectContaining({ TaskName: expect.stringMatching(/^csip-scan:prod-on-change:evt-[0-9a-f]{16}:1$/), ScanAssetType: 1 })]);
    expect(creates()[0]!.Assets.map((a) => a.Asset)).toEqual(["ins-new00001"]);
    // A lookup by ID, not a walk of the inventory.
    expect(emulator.callsOf("DescribeCVMAssets").map((c) => c.params)).toEqual([
      { Filter: { Limit: 100, Offset: 0, Filters: [{ Name: "AssetId", Values: ["ins-new00001"], OperatorType: 7 }] } },
    ]);
  });

  it("a retag (tag:AddResourceTag) names the instance through its resource name", async () => {
    const summary = await handler()(tagAttach, {});
    expect(summary.assets).toEqual(["ins-old00001"]);
    expect(creates()[0]!.Assets.map((a) => a.Asset)).toEqual(["ins-old00001"]);
  });

  it("an instance that matches no policy creates nothing and says so", async () => {
    const summary = await handler()(event("evt-lonely", ["ins-lonely01"]), {});
    expect(summary).toMatchObject({ unmatched: ["ins-lonely01"], runs: [], ok: true });
    expect(creates()).toHaveLength(0);
  });

  it("a batch of 50 records becomes one task per policy", async () => {
    const records = Array.from({ length: 50 }, (_, i) => ({
      CMQ: { ...cmq.Records[0]!.CMQ, msgBody: JSON.stringify(event(`evt-batch-${i}`, [`ins-batch${String(i).padStart(3, "0")}`])) },
    }));
    records.push({ CMQ: { ...cmq.Records[0]!.CMQ, msgBody: JSON.stringify(event("evt-batch-stage", ["ins-stage001"])) } });
    const summary = await handler()({ Records: records }, {});
    expect(summary.handled).toBe(51);
    expect(creates().map((c) => [c.TaskName.split(":")[1], c.Assets.length])).toEqual([
      ["prod-on-change", 50],
      ["staging-on-change", 1],
    ]);
  });

  it("a redelivered event creates nothing new", async () => {
    const h = handler("");
    await h(runInstances, {});
    const again = await h(runInstances, {});
    expect(emulator.state.tasks).toHaveLength(1);
    expect(again.cooledDown).toEqual([{ policy: "prod-on-change", asset: "ins-new00001" }]);
  });

  it("a redelivery after the cooldown still finds the task by its name", async () => {
    const h = handler("");
    const first = await h(runInstances, {});
    // Forget the cooldown: the task name, made from the event ID, still matches.
    await new FileStateStore(join(dir, `state-${count}`)).set("cooldown/prod-on-change/cvm:ins-new00001", 0);
    const again = await h(runInstances, {});
    expect(emulator.state.tasks).toHaveLength(1);
    expect(again.runs[0]!.tasks).toEqual([expect.objectContaining({ taskId: first.runs[0]!.tasks[0]!.taskId, reused: true })]);
  });

  it("a producer that reuses an event ID for another asset: that asset is scanned by a run of its own, and told", async () => {
    const h = handler();
    const first = await h(event("evt-reused", ["ins-new00001"]), {});
    const second = await h(event("evt-reused", ["ins-old00001"]), {});
    expect(creates().map((c) => c.Assets.map((a) => a.Asset))).toEqual([["ins-new00001"], ["ins-old00001"]]);
    expect(second.runs[0]!.tasks).toEqual([expect.objectContaining({ assets: 1 })]);
    expect(second.runs[0]!.tasks[0]!.reused).toBeUndefined();
    expect(second.runs[0]!.tasks[0]!.taskName).not.toBe(first.runs[0]!.tasks[0]!.taskName);
    expect(second.runs[0]!.notifications.map((n) => n.via)).not.toContain("sent before");
    // Its cooldown started with its scan: the same asset again is cooled down.
    const third = await h(event("evt-reused", ["ins-old00001"]), {});
    expect(third.cooledDown).toEqual([{ policy: "prod-on-change", asset: "ins-old00001" }]);
  });

  it("a cooldown starts only for the assets a task scans, not for one CSIP refused", async () => {
    const h = handler();
    const first = await h(event("evt-mixed-1", ["ins-unauth01", "ins-old00001"]), {});
    expect(first.runs[0]!.unauthorized.map((a) => a.id)).toEqual(["ins-unauth01"]);
    expect(first.runs[0]!.tasks).toEqual([expect.objectContaining({ assets: 1 })]);
    const second = await h(event("evt-mixed-2", ["ins-unauth01", "ins-old00001"]), {});
    expect(second.cooledDown).toEqual([{ policy: "prod-on-change", asset: "ins-old00001" }]);
    expect(second.runs.map((r) => r.unauthorized.map((a) => a.id))).toEqual([["ins-unauth01"]]);
  });

  it("a retry whose chunk kept an earlier attempt's task, made while an asset was cooled down: that asset starts no cooldown, and the next event scans it", async () => {
    const h = handler();
    const state = new FileStateStore(join(dir, `state-${count}`));
    const oldCooldown = "cooldown/prod-on-change/cvm:ins-old00001";
    await state.set(oldCooldown, Date.now());
    const first = await h(event("evt-cooling", ["ins-new00001", "ins-old00001"]), {});
    expect(first.cooledDown).toEqual([{ policy: "prod-on-change", asset: "ins-old00001" }]);
    expect(creates().map((c) => c.Assets.map((a) => a.Asset))).toEqual([["ins-new00001"]]);
    // The old asset's cooldown runs out; the same event comes again and plans it in chunk 1, whose task scanned the new one.
    await state.set(oldCooldown, 0);
    const again = await h(event("evt-cooling", ["ins-new00001", "ins-old00001"]), {});
    expect(again.runs[0]!.tasks).toEqual([expect.objectContaining({ chunk: 1, reused: true })]);
    expect(again.runs[0]!.warnings).toEqual([expect.stringMatching(/^chunk\(s\) 1 kept the task an earlier attempt of this run made for other assets/)]);
    expect(await state.get(oldCooldown, z.number())).toBe(0);
    const next = await h(event("evt-cooling-2", ["ins-old00001"]), {});
    expect(next.cooledDown).toEqual([]);
    expect(creates().map((c) => c.Assets.map((a) => a.Asset))).toEqual([["ins-new00001"], ["ins-old00001"]]);
  });

  it("the cooldown keeps the same asset from being rescanned by the same policy", async () => {
    const h = handler();
    await h(event("evt-a", ["ins-old00001"]), {});
    const second = await h(event("evt-b", ["ins-old00001"]), {});
    expect(emulator.state.tasks).toHaveLength(1);
    expect(second.cooledDown).toEqual([{ policy: "prod-on-change", asset: "ins-old00001" }]);
  });

  it("an unknown event type is acknowledged and counted, and calls nothing", async () => {
    const summary = await handler()(unknownType, {});
    expect(summary).toMatchObject({ events: 1, handled: 0, ignored: { "cos:created:object": 1 }, ok: true });
    expect(emulator.calls).toHaveLength(0);
  });

  it("a brand-new asset: syncs the inventory and looks again", async () => {
    emulator.state.pendingSync = [{ kind: "cvm", id: "ins-brand001", name: "brand-new", region: "ap-guangzhou", tags: { env: "prod", tier: "web" }, authorized: true }];
    const summary = await handler()(event("evt-brand", ["ins-brand001"]), {});
    expect(emulator.callsOf("CreateAssetSyncTask")).toHaveLength(1);
    expect(summary.unknownAssets).toEqual([]);
    expect(creates()[0]!.Assets.map((a) => a.Asset)).toEqual(["ins-brand001"]);
  });

  it("an asset still unknown is reported, not lost", async () => {
    const summary = await handler("timeouts: { requestSeconds: 5, runSeconds: 60, reserveSeconds: 0 }")(event("evt-ghost", ["ins-ghost001"]), {});
    expect(summary.unknownAssets).toEqual(["ins-ghost001"]);
    expect(summary.warnings).toEqual(["CSIP's inventory does not know ins-ghost001 yet; not scanned"]);
    expect(creates()).toHaveLength(0);
  });

  it("an unauthorized changed asset is notified as in the scheduled run", async () => {
    const summary = await handler()(event("evt-rogue", ["ins-unauth01"]), {});
    expect(summary.runs[0]!.unauthorized.map((a) => a.id)).toEqual(["ins-unauth01"]);
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ trigger: "asset-change", unauthorizedAssets: [{ id: "ins-unauth01", name: "rogue" }] });
  });

  it.each([
    [{ ...runInstances, id: "" }, "id"],
    [{ ...runInstances, data: "{not json" }, "data"],
    [{ Records: [] }, "Records"],
    [{ Records: "all of them" }, "Records"],
  ])("rejects a malformed delivery (%#) at %s, and calls nothing", async (delivery, path) => {
    const error = await caught(handler()(delivery, {}));
    expect(error).toBeInstanceOf(EventError);
    expect((error as unknown as EventError).path).toBe(path);
    expect(emulator.calls).toHaveLength(0);
  });

  const good = cmq.Records[0]!;
  it.each([
    [{ CMQ: { type: "topic", msgBody: "not json" } }, "Records.1.CMQ.msgBody", "is not JSON"],
    [{ CMQ: { type: "topic", msgBody: JSON.stringify({ ...runInstances, type: 42 }) } }, "Records.1.CMQ.msgBody.type", "Invalid input: expected string, received number"],
    [{ Ckafka: { ...ckafka.Records[0]!.Ckafka, partition: "one" } }, "Records.1.Ckafka.partition", "Invalid input: expected number, received string"],
    [{ SQS: {} }, "Records.1", "has none of CMQ, Ckafka"],
    [7, "Records.1", "must be an object"],
  ])("one malformed record (%#) does not sink its batch: the good one is scanned, the bad one reported at %s", async (bad, path, message) => {
    const summary = await handler()({ Records: [good, bad] }, {});
    expect(summary.ok).toBe(true);
    expect(summary.rejected).toEqual([{ index: 1, path, message }]);
    expect(summary.warnings).toContain(`record 1 was not read: ${path}: ${message}`);
    expect(creates()[0]!.Assets.map((a) => a.Asset)).toEqual(["ins-new00001"]);
  });

  it("lookups watch the function's deadline: what was not looked up is reported, not run past the time", async () => {
    const h = handler("rateLimit: { perSecond: 5, marginMs: 0 }\ntimeouts: { reserveSeconds: 0 }");
    const ids = Array.from({ length: 500 }, (_, i) => `host-${i}`);
    const error = await caught(h(event("evt-many", ids), { getRemainingTimeInMillis: () => 1500 }));
    const summary = (error as unknown as RunFailedError).summary as { errors: { code: string; message: string }[] };
    expect(summary.errors).toEqual([{ code: "OutOfTime", message: expect.stringMatching(/^\d+ asset\(s\) were not looked up before the function's time ran out: /) }]);
    // Ten calls of 50 IDs would look up every ID of one kind; the deadline stopped the walk well before.
    expect(emulator.callsOf("DescribeCVMAssets").length).toBeLessThan(10);
  });

  it("fuzzed deliveries: only the project's typed errors, and no call on a malformed one", async () => {
    const h = handler();
    const arbitrary = fc.oneof(
      fc.anything(),
      fc.record({ Records: fc.array(fc.record({ CMQ: fc.record({ type: fc.constantFrom("topic", "queue"), msgBody: fc.oneof(fc.string(), fc.constant(JSON.stringify(unknownType))) }) })) }),
      fc.record({ specversion: fc.constantFrom("1.0", "0", 1), id: fc.string(), type: fc.string(), source: fc.string(), data: fc.oneof(fc.object(), fc.string()) }, { requiredKeys: [] }),
    );
    await expectOnlyTypedErrors(h, arbitrary, emulator, 200);
  });
});
