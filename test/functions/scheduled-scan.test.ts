import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { main_handler as deployedHandler, scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { EventError, RunFailedError } from "../../shared/errors.ts";
import type { TimerSummary } from "../../shared/run/timer-run.ts";
import type { RunSummary } from "../../shared/run/summary.ts";
import { createLogger } from "../../shared/log.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import { caught, clockAt, useHandlerWorld, type startListener } from "../helpers.ts";
import timerEvent from "../fixtures/events/timer.json" with { type: "json" };

// End to end: the SCF handler, the official SDK, the emulator over HTTP, and a webhook listener on 127.0.0.1.

const ESTATE: EstateAssetInput[] = [
  { kind: "cvm", id: "ins-web00001", name: "web-1", publicIp: "203.0.113.1", tags: { env: "prod", tier: "web" } },
  { kind: "cvm", id: "ins-web00002", name: "web-2", tags: { env: "prod", tier: "web", scan: "skip" } },
  { kind: "cvm", id: "ins-web00003", name: 'web-3 "edge"', tags: { env: "prod", tier: "web" }, authorized: false },
  { kind: "cvm", id: "ins-api00001", name: "api-1", tags: { env: "prod", tier: "api" } },
  { kind: "cvm", id: "ins-stg00001", name: "stage-1", tags: { env: "staging", tier: "web" } },
  { kind: "cvm", id: "ins-bastion1", name: "bastion", tags: { role: "bastion" } },
  { kind: "cvm", id: "ins-member01", name: "member-web", region: "ap-hongkong", tags: { env: "prod", tier: "web" }, memberId: "mem-0001" },
  { kind: "cvm", id: "ins-member02", name: "member-web-2", region: "ap-hongkong", tags: { env: "prod", tier: "web" }, memberId: "mem-0001", authorized: false },
  { kind: "db", id: "cdb-prod0001", name: "orders", type: "MYSQL", tags: { env: "prod", tier: "db" } },
  { kind: "domain", id: "shop.example.com", tags: { env: "prod", tier: "web" } },
  { kind: "publicIp", id: "198.51.100.7", type: "CLB", tags: { env: "prod", tier: "web" }, authorized: false },
];

const GROUPS = `
assetGroups:
  prod-web:
    include:
      - tags: { env: prod, tier: [web, api] }
      - group: bastions
    exclude:
      - tags: { scan: skip }
  bastions:
    include:
      - assets: [ins-bastion1, ins-gone0001]
  outer:
    include:
      - group: prod-web
    exclude:
      - group: bastions
      - assets: [ins-api00001]
`;

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-e2e-"));
let configCount = 0;

/** Writes a policy file with the test's policies, points the handler at it, and returns its path. */
function usePolicies(policies: string, extra = ""): string {
  const file = join(dir, `policies-${++configCount}.yaml`);
  writeFileSync(
    file,
    `version: 1
region: ap-guangzhou
timezone: UTC
state:
  path: ${join(dir, `state-${configCount}`)}
notifiers:
  secops:
    type: webhook
    url: ${hook.url}
    secret: whsec_${Buffer.from("a-test-signing-secret-32-bytes!!").toString("base64")}
${GROUPS}${extra}
policies:
${policies}`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return file;
}

const timer = (policy: string, time = "2026-11-29T03:00:00Z"): Record<string, string> => ({ ...timerEvent, TriggerName: policy, Time: time });
const creates = (): Record<string, unknown>[] => emulator.callsOf("CreateRiskCenterScanTask").map((c) => c.params);
const assetIds = (request: Record<string, unknown> | undefined): string[] => ((request?.Assets as { Asset: string }[]) ?? []).map((a) => a.Asset);
const hookBodies = (): Record<string, unknown>[] => hook.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);

/** The handler as deployed, on a clock half a minute past the slot the test events name (03:00 UTC). */
const main_handler = scheduledScanHandler({ clock: clockAt("2026-11-29T03:00:30Z") });

/** The one policy run of a timer invocation that names one policy. */
const runOf = async (summary: Promise<TimerSummary>): Promise<RunSummary> => (await summary).runs[0]!;

useHandlerWorld(ESTATE, {}, (world) => ({ emulator, hook } = world));

describe("scheduled-scan main_handler", () => {
  it("expands tags with value lists, nested groups and excludes into one task", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port, poc]
    mode: quick
    notify: [secops]`);
    const summary = await runOf(main_handler(timer("nightly"), {}));
    // tier web or api, env prod, minus scan=skip, plus the bastion; own account only; every kind, in
    // the order the walk meets them (kind by kind, each list's own order).
    expect(assetIds(creates()[0])).toEqual(["ins-web00001", "ins-web00003", "ins-api00001", "ins-bastion1", "198.51.100.7", "shop.example.com"]);
    expect(creates()[0]).toMatchObject({
      TaskName: "csip-scan:nightly:20261129T030000Z:1",
      ScanAssetType: 1,
      ScanPlanType: 1,
      ScanItem: ["port", "poc"],
      TaskMode: 1,
      ScanFrom: "csip",
    });
    expect((creates()[0]!.Assets as unknown[])[3]).toEqual({ Asset: "ins-bastion1", AssetName: "bastion", AssetType: "Instance", InstanceType: "CVM", Region: "ap-guangzhou" });
    expect(summary.assetsPerGroup).toEqual({ "prod-web": 6 });
    expect(summary.warnings).toEqual([`asset "ins-gone0001" is listed in a group but CSIP's inventory does not know it; it was not scanned`]);
  });

  it("excludes a nested group and explicit assets", async () => {
    usePolicies(`  - name: outer-scan
    schedule: "0 0 3 * * * *"
    targets: [outer]
    scanItems: [port]
    unauthorized: notify-only`);
    await runOf(main_handler(timer("outer-scan"), {}));
    expect(assetIds(creates()[0])).toEqual(["ins-web00001", "ins-web00003", "198.51.100.7", "shop.example.com"]);
  });

  it("submits once more without the unauthorized assets, and tells the webhook who they are", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    notify: [secops]`);
    const summary = await runOf(main_handler(timer("nightly"), {}));
    expect(creates()).toHaveLength(2);
    expect(assetIds(creates()[1])).toEqual(["ins-web00001", "ins-api00001", "ins-bastion1", "shop.example.com"]);
    expect(summary.tasks).toEqual([
      { chunk: 1, taskId: expect.stringMatching(/^rmis-/), taskName: "csip-scan:nightly:20261129T030000Z:1", requestId: expect.any(String), assets: 4 },
    ]);
    expect(summary.unauthorized).toEqual([
      { id: "ins-web00003", name: 'web-3 "edge"', kind: "cvm", region: "ap-guangzhou" },
      { id: "198.51.100.7", name: "198.51.100.7", kind: "publicIp", region: "ap-guangzhou" },
    ]);
    expect(summary.ok).toBe(true);
    expect(hookBodies()).toEqual([
      expect.objectContaining({
        schema: "csip-scan.run/v1",
        reasons: ["unauthorized"],
        policy: "nightly",
        trigger: "timer",
        scheduledTime: "2026-11-29T03:00:00.000Z",
        status: "ok",
        unauthorizedAssets: summary.unauthorized,
        tasks: [{ taskId: summary.tasks[0]!.taskId, taskName: "csip-scan:nightly:20261129T030000Z:1", assets: 4 }],
        warnings: summary.warnings,
        errors: [],
        howToAuthorize: expect.stringContaining("console.cloud.tencent.com/csip"),
      }),
    ]);
  });

  it("with unauthorized: notify-only, creates no task and notifies", async () => {
    usePolicies(`  - name: careful
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    notify: [secops]
    unauthorized: notify-only`);
    const summary = await runOf(main_handler(timer("careful"), {}));
    expect(creates()).toHaveLength(1);
    expect(summary.tasks).toEqual([]);
    expect(summary.warnings).toContain("chunk 1: unauthorized assets, so no task was created (unauthorized: notify-only)");
    expect(hookBodies()[0]).toMatchObject({ unauthorizedAssets: [{ id: "ins-web00003" }, { id: "198.51.100.7" }] });
  });

  it("counts only the authorized assets when CSIP creates the task anyway", async () => {
    emulator.state.whenUnauthorized = "task-with-id";
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]`);
    const summary = await runOf(main_handler(timer("nightly"), {}));
    expect(creates()).toHaveLength(1);
    expect(summary.tasks[0]?.assets).toBe(4);
    expect(summary.unauthorized.map((a) => a.id)).toEqual(["ins-web00003", "198.51.100.7"]);
  });

  it("scopes the inventory and the task to member accounts", async () => {
    usePolicies(`  - name: members
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    memberIds: [mem-0001]
    notify: [secops]`);
    const summary = await runOf(main_handler(timer("members"), {}));
    expect(emulator.callsOf("DescribeCVMAssets")[0]?.params).toMatchObject({ MemberId: ["mem-0001"] });
    expect(creates()[0]).toMatchObject({ MemberId: ["mem-0001"] });
    expect(assetIds(creates()[0])).toEqual(["ins-member01", "ins-member02"]);
    expect(summary.unauthorized).toEqual([{ id: "ins-member02", name: "member-web-2", kind: "cvm", region: "ap-hongkong", memberId: "mem-0001" }]);
  });

  it("splits large asset lists into chunks of maxAssetsPerTask, one task each", async () => {
    usePolicies(`  - name: chunked
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    maxAssetsPerTask: 4
    unauthorized: notify-only`);
    emulator.state.whenUnauthorized = "task-with-id";
    const summary = await runOf(main_handler(timer("chunked"), {}));
    expect(creates().map((c) => [c.TaskName, assetIds(c).length])).toEqual([
      ["csip-scan:chunked:20261129T030000Z:1", 4],
      ["csip-scan:chunked:20261129T030000Z:2", 2],
    ]);
    expect(summary.tasks.map((t) => t.chunk)).toEqual([1, 2]);
  });

  it("fetches only the inventory kinds a policy needs", async () => {
    usePolicies(`  - name: bastion-only
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [weakpass]`);
    await runOf(main_handler(timer("bastion-only"), {}));
    // One list of CVMs, one look for tasks this run may already have created, one task.
    expect(emulator.calls.map((c) => c.action)).toEqual(["DescribeCVMAssets", "DescribeScanTaskList", "CreateRiskCenterScanTask"]);
  });

  it.each([
    ["urls", "    urls: [https://shop.example.com/login, 203.0.113.1]", { ScanAssetType: 3, SelfDefiningAssets: ["https://shop.example.com/login", "203.0.113.1"] }],
    ["all", "    all: true", { ScanAssetType: 0 }],
    ["all except", "    all: true\n    except: [bastions]", { ScanAssetType: 2, Assets: [expect.objectContaining({ Asset: "ins-bastion1" })] }],
  ])("maps %s to its ScanAssetType", async (_, scope, expected) => {
    usePolicies(`  - name: scoped
    schedule: "0 0 3 * * * *"
${scope}
    scanItems: [port]`);
    const summary = await runOf(main_handler(timer("scoped"), {}));
    expect(creates()[0]).toMatchObject(expected);
    expect(summary.tasks).toHaveLength(1);
  });

  it("creates no task when targets expand to nothing, and says so", async () => {
    usePolicies(`  - name: empty
    schedule: "0 0 3 * * * *"
    targets: [nothing]
    scanItems: [port]`, "  nothing:\n    include:\n      - tags: { env: nowhere }\n");
    const summary = await runOf(main_handler(timer("empty"), {}));
    expect(creates()).toHaveLength(0);
    expect(summary.warnings).toEqual(["targets nothing expand to no assets; no task was created"]);
  });

  it("signs the webhook by the Standard Webhooks scheme, verified by its reference library", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    notify: [secops]
    notifyOn: [summary]`);
    await runOf(main_handler(timer("nightly"), {}));
    const [request] = hook.received;
    const verifier = new Webhook(`whsec_${Buffer.from("a-test-signing-secret-32-bytes!!").toString("base64")}`);
    expect(verifier.verify(request!.body, request!.headers as Record<string, string>)).toMatchObject({ policy: "nightly", reasons: ["summary"] });
    const forged = new Webhook(Buffer.from("another-secret-of-thirty-two-byt").toString("base64"));
    expect(() => forged.verify(request!.body, request!.headers as Record<string, string>)).toThrow();
  });

  it("the same timer event twice sends one message, unauthorized assets and summary alike", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [prod-web]
    scanItems: [port]
    notify: [secops]
    notifyOn: [unauthorized, summary]`);
    await runOf(main_handler(timer("nightly"), {}));
    const again = await runOf(main_handler(timer("nightly"), {}));
    expect(hookBodies()).toEqual([expect.objectContaining({ reasons: ["unauthorized", "summary"] })]);
    expect(again.notifications).toEqual([{ notifier: "secops", delivered: true, via: "sent before" }]);
  });

  it("sends nothing when notifyOn's conditions do not hold", async () => {
    usePolicies(`  - name: quiet
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]
    notify: [secops]`);
    const summary = await runOf(main_handler(timer("quiet"), {}));
    expect(summary.tasks).toHaveLength(1);
    expect(hook.received).toHaveLength(0);
  });

  it("reports a failed call with its API code and RequestId, to the summary and the webhook", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]
    notify: [secops]`);
    emulator.inject("CreateRiskCenterScanTask", { type: "error", code: "UnauthorizedOperation", message: "CAM denies it" });
    const error = await caught(main_handler(timer("nightly"), {}));
    expect(error).toBeInstanceOf(RunFailedError);
    const summary = ((error as unknown as RunFailedError).summary as TimerSummary).runs[0]!;
    const requestId = emulator.callsOf("CreateRiskCenterScanTask")[0]!.requestId;
    expect(summary.ok).toBe(false);
    expect(summary.errors).toEqual([
      { code: "UnauthorizedOperation", requestId, message: `chunk 1: CreateRiskCenterScanTask failed with UnauthorizedOperation (RequestId ${requestId}): CAM denies it` },
    ]);
    expect(hookBodies()[0]).toMatchObject({ reasons: ["failure"], status: "failed", errors: summary.errors });
  });

  it("reports an inventory failure and creates nothing", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]
    notify: [secops]`);
    emulator.inject("DescribeCVMAssets", { type: "http", status: 503 }, 5);
    const error = await caught(main_handler(timer("nightly"), {}));
    const summary = ((error as unknown as RunFailedError).summary as TimerSummary).runs[0]!;
    expect(creates()).toHaveLength(0);
    expect(summary.errors[0]).toMatchObject({ code: "HttpError.503" });
    expect(hookBodies()[0]).toMatchObject({ status: "failed" });
  });

  it.each([
    ["DescribeCVMAssets", { Total: 1, Data: 5 }, "Data: Invalid input: expected array, received number"],
    ["DescribeCVMAssets", { Total: "many", Data: [] }, "Total: Invalid input: expected number, received string"],
    ["DescribeScanTaskList", { TotalCount: 1, Data: [7] }, "Data.0: Invalid input: expected object, received number"],
  ] as const)("a malformed %s answer is a failure naming the action, the field and the RequestId", async (action, response, what) => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]
    notify: [secops]`);
    emulator.inject(action, { type: "answer", response });
    const summary = ((((await caught(main_handler(timer("nightly"), {}))) as unknown as RunFailedError).summary) as TimerSummary).runs[0]!;
    const requestId = emulator.callsOf(action)[0]!.requestId;
    const chunk = action === "DescribeScanTaskList" ? "chunk 1: " : "";
    const context = action === "DescribeScanTaskList" ? "could not check for an existing task: " : "";
    expect(summary.errors).toEqual([
      { code: "BadResponse", requestId, message: `${chunk}${context}${action} failed with BadResponse (RequestId ${requestId}): the answer does not have the expected shape at ${what}` },
    ]);
  });

  it("a malformed CreateRiskCenterScanTask answer may hide a task: looked for, then created once", async () => {
    usePolicies(
      `  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]`,
    );
    emulator.inject("CreateRiskCenterScanTask", { type: "answer", response: { Status: -1, UnAuthAsset: "ins-bastion1" } });
    // The request timeout CSIP gets before each look takes no time here: the calls are ordered by requests.
    const instant = scheduledScanHandler({ clock: { now: clockAt("2026-11-29T03:00:30Z").now, sleep: async () => {} } });
    const summary = await runOf(instant(timer("nightly"), {}));
    expect(summary.ok).toBe(true);
    expect(emulator.calls.map((c) => [c.action, c.outcome]).slice(-4)).toEqual([
      ["CreateRiskCenterScanTask", "fault:answer"],
      ["DescribeScanTaskList", "OK"],
      ["CreateRiskCenterScanTask", "OK"],
      ["DescribeScanTaskList", "OK"],
    ]);
    expect(emulator.state.tasks).toHaveLength(1);
  });

  it("runs the policy that Message names, else the one named like the trigger", async () => {
    usePolicies(`  - name: first
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]
  - name: second
    schedule: "0 0 4 * * * *"
    targets: [bastions]
    scanItems: [poc]`);
    expect((await main_handler({ ...timer("first"), Message: "second" }, {})).policies).toEqual(["second"]);
    expect((await main_handler({ ...timer("first"), Message: "not a policy" }, {})).policies).toEqual(["first"]);
  });

  it("acknowledges a timer that stands for no policy or schedule (left by an earlier deploy): a warning, no call, no throw", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]`);
    const summary = await deployedHandler(timer("weekly"), {});
    expect(summary).toEqual({
      trigger: "timer",
      triggerName: "weekly",
      policies: [],
      runs: [],
      warnings: ['timer "weekly" stands for no schedule of the policy file (left by an earlier deploy?); acknowledged, nothing run'],
      ok: true,
      retry: true,
    });
    expect(emulator.calls).toHaveLength(0);
  });

  it.each([
    [{ ...timerEvent, Type: "Cos" }, "Type", 'invalid event at Type: must be "Timer"'],
    [{ ...timerEvent, Time: "yesterday" }, "Time", "invalid event at Time: must be an ISO 8601 time such as 2026-11-29T03:00:00Z"],
    [{ Type: "Timer", Time: "2026-11-29T03:00:00Z" }, "TriggerName", "invalid event at TriggerName: is required"],
    [{ ...timerEvent, Message: 42 }, "Message", "invalid event at Message: Invalid input: expected string, received number"],
    ["not an object", "", "invalid event: Invalid input: expected object, received string"],
  ])("rejects a malformed timer event (%#) at its bad field and calls nothing", async (event, path, message) => {
    const error = await caught(main_handler(event, {}));
    expect(error).toBeInstanceOf(EventError);
    expect(error).toMatchObject({ path, message });
    expect(emulator.calls).toHaveLength(0);
  });

  it("logs the summary as one JSON line", async () => {
    usePolicies(`  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [bastions]
    scanItems: [port]`);
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    const handler = scheduledScanHandler({ logger: createLogger({ level: "info", destination: sink }) });
    const summary = await runOf(handler(timer("nightly"), {}));
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.filter((e) => "summary" in e)).toEqual([expect.objectContaining({ level: 30, summary: JSON.parse(JSON.stringify(summary)) })]);
    // The only other line is the warning that local webhooks are allowed.
    expect(entries.filter((e) => !("summary" in e)).map((e) => e.msg)).toEqual([expect.stringContaining("CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1")]);
  });
});
