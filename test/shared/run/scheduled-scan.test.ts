import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/load.ts";
import { silentLogger } from "../../../shared/log.ts";
import { repeatedRowsWarning, runScheduledScan, walkTookTooLong } from "../../../shared/run/scheduled-scan.ts";
import { createServices, startRun, type ServiceOverrides } from "../../../shared/run/services.ts";
import { toEstateAssets } from "../../../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { openRuns } from "../../../shared/results/open-runs.ts";
import type { CsipAction } from "../../../shared/csip/actions.ts";
import type { CsipClient, RequestOf, ResponseOf } from "../../../shared/csip/client.ts";
import { runRecord } from "../../../shared/run/policy-run.ts";
import { scheduledRunNames } from "../../../shared/state/keys.ts";
import { FileStateStore } from "../../../shared/state/store.ts";
import { LEASE_MS } from "../../../shared/state/lease.ts";
import { emulatedClock, envOf, LOCAL_WEBHOOKS, sdkClient, startListener, takingTime } from "../../helpers.ts";

describe("walkTookTooLong", () => {
  it.each([
    [400_000, 900_000, undefined],
    [450_000, 900_000, undefined],
    [451_000, 900_000, "the inventory walk took 451 s of the 900 s the run had"],
  ])("a walk of %i ms in a run of %i ms: %s", (walkMs, budgetMs, warning) => {
    const said = walkTookTooLong(walkMs, budgetMs);
    if (warning === undefined) expect(said).toBeUndefined();
    else expect(said).toContain(warning);
  });
});

describe("a scheduled run's time budget", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-budget-"));
  beforeAll(async () => {
    emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-slow0001", tags: { env: "prod" } }], rateLimit: false });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps its phase times and warns when the walk used more than half the time the run had", async () => {
    const config = parseConfig(
      `version: 1\ntimeouts: { reserveSeconds: 0 }\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: slow, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }\n`,
      "budget.yaml",
      envOf(),
    );
    // The CVM list answers in 700 ms of emulated time, in a run of 1.2 s: more than half of it.
    const clock = emulatedClock("2026-11-29T03:00:05Z");
    const sdk = takingTime(sdkClient(emulator), clock, (action) => (action === "DescribeCVMAssets" ? 700 : 0));
    const run = startRun(createServices(config, envOf(), { sdk, clock, logger: silentLogger() }), 1_200);
    const summary = await runScheduledScan(run, { policy: "slow", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "manual", dryRun: true });
    expect(summary.durationsMs).toEqual({ inventory: 700, tasks: 0, notify: 0, total: 700 });
    expect(summary.warnings).toEqual([expect.stringMatching(/^the inventory walk took 1 s of the 1 s the run had: /)]);
  });

  it("says nothing of a walk that used half the time the run had", async () => {
    const config = parseConfig(
      `version: 1\ntimeouts: { reserveSeconds: 0 }\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: slow, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }\n`,
      "budget.yaml",
      envOf(),
    );
    const clock = emulatedClock("2026-11-29T03:00:05Z");
    const sdk = takingTime(sdkClient(emulator), clock, (action) => (action === "DescribeCVMAssets" ? 600 : 0));
    const run = startRun(createServices(config, envOf(), { sdk, clock, logger: silentLogger() }), 1_200);
    const summary = await runScheduledScan(run, { policy: "slow", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "manual", dryRun: true });
    expect(summary.durationsMs.inventory).toBe(600);
    expect(summary.warnings).toEqual([]);
  });
});

describe("a scheduled run that creates tasks as its walk fills them", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-walk-"));
  let n = 0;
  beforeAll(async () => {
    emulator = await startEmulator({
      estate: Array.from({ length: 250 }, (_, i) => ({
        kind: "cvm" as const,
        id: `ins-w${String(i).padStart(7, "0")}`,
        name: `host-${i}`,
        tags: { env: "prod" },
        authorized: i !== 7,
      })),
      rateLimit: false,
    });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A run of policy "walk" (100 assets a task unless said) over its own state folder; each test its own hour. */
  const runOnce = (state: string, hour: number, perTask = 100, budgetMs = 60_000, overrides: ServiceOverrides = {}) => {
    const config = parseConfig(
      `version: 1\ntimeouts: { reserveSeconds: 0 }\nstate: { path: ${JSON.stringify(join(dir, state))} }\nretry: { baseMs: 1, capMs: 5, attempts: 2 }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: walk, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: ${perTask}, unauthorized: scan-authorized }\n`,
      "walk.yaml",
      envOf(),
    );
    const run = startRun(createServices(config, envOf(), { sdk: sdkClient(emulator), logger: silentLogger(), ...overrides }), budgetMs);
    return runScheduledScan(run, { policy: "walk", scheduledTime: new Date(Date.UTC(2026, 10, 29, hour)), trigger: "timer" });
  };
  const calls = (from = 0) => emulator.calls.slice(from).map((c) => (c.action === "DescribeCVMAssets" ? `list ${(c.params.Filter as { Offset: number }).Offset}` : c.action));
  const tasksPerName = () => {
    const counts: Record<string, number> = {};
    for (const t of emulator.state.tasks) if (t.TaskName.startsWith("csip-scan:walk:")) counts[t.TaskName] = (counts[t.TaskName] ?? 0) + 1;
    return counts;
  };

  it("creates a chunk's task as soon as the chunk is full, before the walk reads on", async () => {
    const from = emulator.calls.length;
    const summary = await runOnce(`s${++n}`, 1);
    expect(summary.ok).toBe(true);
    const seen = calls(from);
    // Page 0 fills chunk 1, which is created (after the one look for the run's earlier tasks; and,
    // holding an unauthorized asset, created again without it) before page 100 is asked for.
    expect(seen.slice(0, seen.indexOf("list 100"))).toEqual(["list 0", "DescribeScanTaskList", "CreateRiskCenterScanTask", "DescribeScanTaskList", "CreateRiskCenterScanTask"]);
    expect(summary.tasks.map((t) => [t.chunk, t.assets])).toEqual([
      [1, 99],
      [2, 100],
      [3, 50],
    ]);
    expect(summary.assetsPerGroup).toEqual({ prod: 250 });
    expect(summary.unauthorized).toEqual([{ id: "ins-w0000007", name: "host-7", kind: "cvm", region: expect.any(String) }]);
  });

  it("a walk that fails part way creates no partial chunk; the retry walks again and makes only what is missing", async () => {
    const state = `s${++n}`;
    // Pages 0 and 100 answer; page 200 fails with an error the client does not retry.
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 0 }, 2);
    emulator.inject("DescribeCVMAssets", { type: "error", code: "InvalidParameter", message: "no" });
    const first = await runOnce(state, 2, 150);
    expect(first.ok).toBe(false);
    expect(first.errors.map((e) => e.code)).toEqual(["InvalidParameter"]);
    // 200 assets read: chunk 1 (150) made, the 50 after it not sent as a chunk of their own.
    expect(first.tasks.map((t) => t.chunk)).toEqual([1]);
    const second = await runOnce(state, 2, 150);
    expect(second.ok).toBe(true);
    expect(second.tasks.map((t) => [t.chunk, t.reused ?? false, t.assets])).toEqual([
      [1, true, 149],
      [2, false, 100],
    ]);
    expect(Object.values(tasksPerName()).every((count) => count === 1)).toBe(true);
  });

  it("a walk that fails after the estate grew forgets the earlier walk's count of chunks, so the next attempt walks again", async () => {
    const state = `s${++n}`;
    // Attempt 1 walks to the end (3 chunks); chunk 3's create is refused (chunk 1 takes two creates).
    emulator.inject("CreateRiskCenterScanTask", { type: "slow", ms: 0 }, 3);
    emulator.inject("CreateRiskCenterScanTask", { type: "error", code: "InvalidParameterValue", message: "no" });
    const first = await runOnce(state, 5);
    expect(first.tasks.map((t) => t.chunk)).toEqual([1, 2]);
    const estate = emulator.state.estate;
    try {
      // 200 more CVMs: 5 chunks. Attempt 2 makes chunks 3 and 4, then the public IP list fails before
      // the 50 of chunk 5 are sent.
      emulator.state.estate = [...estate, ...toEstateAssets(Array.from({ length: 200 }, (_, i) => ({ kind: "cvm" as const, id: `ins-x${String(i).padStart(7, "0")}`, tags: { env: "prod" } })))];
      emulator.inject("DescribePublicIpAssets", { type: "error", code: "InvalidParameter", message: "no" });
      const second = await runOnce(state, 5);
      expect(second.tasks.map((t) => t.chunk)).toEqual([1, 2, 3, 4]);
      expect(second.errors.map((e) => e.code)).toEqual(["InvalidParameter"]);
      const third = await runOnce(state, 5);
      expect(third.ok).toBe(true);
      expect(third.tasks.map((t) => [t.chunk, t.assets])).toEqual([
        [1, 99],
        [2, 100],
        [3, 100],
        [4, 100],
        [5, 50],
      ]);
      expect(Object.values(tasksPerName()).every((count) => count === 1)).toBe(true);
    } finally {
      emulator.state.estate = estate;
    }
  });

  /** Attempt 1 of a run of 40 assets a task: pages 0 and 100 fill chunks 1 to 5, then page 200 fails. */
  const failAfterFiveChunks = async (state: string, hour: number) => {
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 0 }, 2);
    emulator.inject("DescribeCVMAssets", { type: "error", code: "InvalidParameter", message: "no" });
    const first = await runOnce(state, hour, 40);
    expect(first.errors.map((e) => e.code)).toEqual(["InvalidParameter"]);
    expect(first.tasks.map((t) => t.chunk)).toEqual([1, 2, 3, 4, 5]);
    return first;
  };
  const openTaskIds = async (state: string) => (await openRuns(new FileStateStore(join(dir, state)))).flatMap((r) => r.taskIds).sort();

  it("a walk failing after five chunks, retried after the estate shrank: the run keeps every task, makes none, and says the estate changed", async () => {
    const state = `s${++n}`;
    const first = await failAfterFiveChunks(state, 6);
    const estate = emulator.state.estate;
    try {
      // 120 CVMs now: the retry's walk fills chunks 1 to 3 only.
      emulator.state.estate = estate.slice(0, 120);
      const from = emulator.calls.length;
      const second = await runOnce(state, 6, 40);
      expect(second.ok).toBe(true);
      expect(calls(from)).not.toContain("CreateRiskCenterScanTask");
      expect(second.tasks.map((t) => [t.chunk, t.taskId])).toEqual(first.tasks.map((t) => [t.chunk, t.taskId]));
      expect(second.warnings).toContainEqual(expect.stringMatching(/^the estate changed between attempts of this run: chunk\(s\) 4, 5 of an earlier attempt were not filled again\. The earlier tasks are kept and followed/));
      // The results look follows all five.
      expect(await openTaskIds(state)).toEqual(first.tasks.map((t) => t.taskId).sort());
      // A repeat walks nothing, keeps the five, and still says so.
      const third = await runOnce(state, 6, 40);
      expect(third.tasks.map((t) => t.taskId)).toEqual(first.tasks.map((t) => t.taskId));
      expect(third.warnings.filter((w) => w.startsWith("the estate changed"))).toHaveLength(1);
      expect(Object.values(tasksPerName()).every((count) => count === 1)).toBe(true);
    } finally {
      emulator.state.estate = estate;
    }
  });

  it("a walk failing after five chunks, retried after the estate shifted: the earlier tasks stay, only chunks without a task are made, and the summary says which chunks changed", async () => {
    const state = `s${++n}`;
    const first = await failAfterFiveChunks(state, 7);
    const estate = emulator.state.estate;
    try {
      // Ten CVMs gone from the front, ten new at the end: as many chunks, each holding other assets.
      emulator.state.estate = [...estate.slice(10), ...toEstateAssets(Array.from({ length: 10 }, (_, i) => ({ kind: "cvm" as const, id: `ins-y${String(i).padStart(7, "0")}`, tags: { env: "prod" } })))];
      const second = await runOnce(state, 7, 40);
      expect(second.ok).toBe(true);
      expect(second.tasks.map((t) => [t.chunk, t.reused ?? false])).toEqual([
        [1, true],
        [2, true],
        [3, true],
        [4, true],
        [5, true],
        [6, false],
        [7, false],
      ]);
      expect(second.tasks.slice(0, 5).map((t) => t.taskId)).toEqual(first.tasks.map((t) => t.taskId));
      expect(second.warnings).toContainEqual(expect.stringMatching(/^the estate changed between attempts of this run: chunk\(s\) 1, 2, 3, 4, 5 now hold other assets than their tasks\./));
      expect(await openTaskIds(state)).toEqual(second.tasks.map((t) => t.taskId).sort());
    } finally {
      emulator.state.estate = estate;
    }
  });

  it("a retry over the same estate says nothing of a change", async () => {
    const state = `s${++n}`;
    await failAfterFiveChunks(state, 8);
    const second = await runOnce(state, 8, 40);
    expect(second.ok).toBe(true);
    expect(second.tasks.map((t) => [t.chunk, t.reused ?? false])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, true],
      [6, false],
      [7, false],
    ]);
    expect(second.warnings.filter((w) => w.startsWith("the estate changed"))).toEqual([]);
  });

  it("out of time during the walk: reads no further page, and says how far it got", async () => {
    // Page 100 answers after the run's 600 ms of emulated time are over.
    const clock = emulatedClock("2026-11-29T04:00:05Z");
    const sdk = takingTime(sdkClient(emulator), clock, (action, request) => (action === "DescribeCVMAssets" && (request.Filter as { Offset: number }).Offset === 100 ? 800 : 0));
    const summary = await runOnce(`s${++n}`, 4, 100, 600, { sdk, clock });
    expect(summary.tasks.map((t) => t.chunk)).toEqual([1]);
    expect(summary.errors).toEqual([
      { code: "OutOfTime", message: "the function's time ran out during the inventory walk, after 100 of the policy's assets; the rest were not read" },
    ]);
  });

  it("one asset, one task: a list that repeats a row while the walk reads it (an asset joined its start) puts that asset in one task, and says so", async () => {
    const estate = emulator.state.estate;
    emulator.state.estate = [...estate];
    try {
      // No request of an earlier test still in flight, so the asset joins at this walk's first page.
      await emulator.settle();
      emulator.addDuringRead({ kind: "cvm", id: "ins-joined01", tags: { env: "prod" } });
      const summary = await runOnce(`s${++n}`, 12);
      expect(summary.ok).toBe(true);
      const walkTasks = emulator.state.tasks.filter((t) => t.TaskName.startsWith("csip-scan:walk:20261129T120000Z"));
      const assets = walkTasks.flatMap((t) => t.Assets.map((a) => a.Asset));
      expect(assets).toHaveLength(249);
      expect(new Set(assets).size).toBe(249);
      expect(summary.tasks.map((t) => [t.chunk, t.assets])).toEqual([
        [1, 99],
        [2, 100],
        [3, 50],
      ]);
      expect(summary.warnings).toContain(repeatedRowsWarning(1));
    } finally {
      emulator.state.estate = estate;
    }
  });

  it("a repeat after a whole run walks nothing, and names the unauthorized asset as the first attempt did", async () => {
    const state = `s${++n}`;
    const first = await runOnce(state, 3);
    const from = emulator.calls.length;
    const second = await runOnce(state, 3);
    expect(calls(from).filter((c) => c.startsWith("list") || c === "CreateRiskCenterScanTask")).toEqual([]);
    expect(second.tasks.map((t) => t.taskId)).toEqual(first.tasks.map((t) => t.taskId));
    expect(second.assetsPerGroup).toEqual({ prod: 250 });
    expect(second.unauthorized).toEqual(first.unauthorized);
    expect(second.unauthorized[0]?.name).toBe("host-7");
  });
});

describe("a scheduled run whose group names a CVM by its public IP", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-alias-"));
  beforeAll(async () => {
    emulator = await startEmulator({
      estate: [
        { kind: "cvm", id: "ins-alias001", name: "by-address", publicIp: "203.0.113.77" },
        ...Array.from({ length: 150 }, (_, i) => ({ kind: "cvm" as const, id: `ins-o${String(i).padStart(7, "0")}`, tags: { env: "prod" } })),
      ],
      rateLimit: false,
    });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("scans the CVM the address names, decided at the walk's end, in the last chunk", async () => {
    const config = parseConfig(
      `version: 1\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  g: { include: [{ assets: [203.0.113.77] }, { tags: { env: prod } }] }\n` +
        `policies:\n  - { name: alias, schedule: "0 0 3 * * * *", targets: [g], scanItems: [port], maxAssetsPerTask: 100 }\n`,
      "alias.yaml",
      envOf(),
    );
    const run = startRun(createServices(config, envOf(), { sdk: sdkClient(emulator), logger: silentLogger() }));
    const summary = await runScheduledScan(run, { policy: "alias", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "manual" });
    expect(summary.ok).toBe(true);
    expect(summary.warnings).toEqual([]);
    expect(summary.assetsPerGroup).toEqual({ g: 151 });
    const scanned = emulator.callsOf("CreateRiskCenterScanTask").map((c) => (c.params.Assets as { Asset: string }[]).map((a) => a.Asset));
    expect(scanned.map((assets) => assets.length)).toEqual([100, 51]);
    expect(scanned.flat().filter((id) => id === "ins-alias001")).toHaveLength(1);
    expect(scanned[1]).toContain("ins-alias001");
  });
});

describe("a chunk that ends without a task", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-notask-"));
  beforeAll(async () => {
    emulator = await startEmulator({
      estate: [
        { kind: "cvm", id: "ins-ok000001", tags: { env: "prod" } },
        { kind: "cvm", id: "ins-ok000002", tags: { env: "prod" } },
        { kind: "cvm", id: "ins-no000001", tags: { env: "prod" }, authorized: false },
        { kind: "cvm", id: "ins-no000002", tags: { env: "prod" }, authorized: false },
      ],
      rateLimit: false,
    });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is done: a repeat of the run neither submits it again nor walks again", async () => {
    const config = parseConfig(
      `version: 1\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: notask, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: 2 }\n`,
      "notask.yaml",
      envOf(),
    );
    const once = () => runScheduledScan(startRun(createServices(config, envOf(), { sdk: sdkClient(emulator), logger: silentLogger() })), { policy: "notask", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "timer" });
    const first = await once();
    expect(first.ok).toBe(true);
    expect(first.tasks.map((t) => t.chunk)).toEqual([1]);
    expect(first.warnings).toEqual(["chunk 2: every asset is unauthorized, so no task was created"]);
    emulator.calls.length = 0;
    const second = await once();
    expect(emulator.calls.map((c) => c.action).filter((a) => a === "CreateRiskCenterScanTask" || a === "DescribeCVMAssets")).toEqual([]);
    expect(second.tasks.map((t) => [t.chunk, t.reused])).toEqual([[1, true]]);
    expect(second.warnings).toEqual(first.warnings);
    expect(second.unauthorized.map((a) => a.id)).toEqual(["ins-no000001", "ins-no000002"]);
  });
});

describe("the run's deadline, on an emulated clock", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-deadline-"));
  beforeAll(async () => {
    emulator = await startEmulator({ estate: Array.from({ length: 6 }, (_, i) => ({ kind: "cvm" as const, id: `ins-d${String(i).padStart(7, "0")}`, tags: { env: "prod" } })), rateLimit: false });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a chunk filled after the time ran out is not submitted, and says so", async () => {
    const config = parseConfig(
      `version: 1\ntimeouts: { reserveSeconds: 0 }\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: late, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: 2 }\n`,
      "deadline.yaml",
      envOf(),
    );
    // Emulated time: the first create answers after the run's 60 s are over.
    const clock = emulatedClock("2026-11-29T03:00:05Z");
    const sdk = takingTime(sdkClient(emulator), clock, (action) => (action === "CreateRiskCenterScanTask" ? 61_000 : 0));
    const run = startRun(createServices(config, envOf(), { sdk, clock, logger: silentLogger() }), 60_000);
    const summary = await runScheduledScan(run, { policy: "late", scheduledTime: new Date("2026-11-29T03:00:00Z"), trigger: "timer" });
    expect(emulator.callsOf("CreateRiskCenterScanTask")).toHaveLength(1);
    expect(summary.tasks.map((t) => t.chunk)).toEqual([1]);
    expect(summary.errors).toEqual([
      // The walk's next list (public IPs, for the tags selector) is not read either.
      { code: "OutOfTime", message: "the function's time ran out during the inventory walk, after 6 of the policy's assets; the rest were not read" },
      { code: "OutOfTime", message: "chunk 2: not submitted: the function's time ran out" },
      { code: "OutOfTime", message: "chunk 3: not submitted: the function's time ran out" },
    ]);
  });
});

describe("the run's record as the walk creates tasks", () => {
  let emulator: Emulator;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-saved-"));
  beforeAll(async () => {
    emulator = await startEmulator({ estate: Array.from({ length: 6 }, (_, i) => ({ kind: "cvm" as const, id: `ins-s${String(i).padStart(7, "0")}`, tags: { env: "prod" } })), rateLimit: false });
  });
  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds each task before the next is asked for: a crash loses no task it made", async () => {
    const config = parseConfig(
      `version: 1\nstate: { path: ${JSON.stringify(dir)} }\nassetGroups:\n  prod: { include: [{ tags: { env: prod } }] }\n` +
        `policies:\n  - { name: saved, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: 2 }\n`,
      "saved.yaml",
      envOf(),
    );
    const slot = new Date("2026-11-29T03:00:00Z");
    const store = new FileStateStore(dir);
    const recordKey = scheduledRunNames("saved", slot).recordKey;
    const sdk = sdkClient(emulator);
    /** The chunks the stored record holds a task for, as each create is asked. */
    const storedAtCreate: string[][] = [];
    const watching: CsipClient = {
      call: async <A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>> => {
        if (action === "CreateRiskCenterScanTask") storedAtCreate.push(Object.keys((await runRecord(store, recordKey, 1).load())?.tasks ?? {}));
        return sdk.call(action, request);
      },
    };
    // Each save makes a page of what it adds (a page of a byte): the record is read back from its pages.
    const run = startRun(createServices(config, envOf(), { sdk: watching, store, logger: silentLogger(), recordPageBytes: 1 }));
    const summary = await runScheduledScan(run, { policy: "saved", scheduledTime: slot, trigger: "timer" });
    expect(summary.tasks.map((t) => t.chunk)).toEqual([1, 2, 3]);
    expect(storedAtCreate).toEqual([[], ["1"], ["1", "2"]]);
  });
});

describe("a run whose lock passes on, or may have, while it works", () => {
  let emulator: Emulator;
  let robot: Awaited<ReturnType<typeof startListener>>;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-lease-lost-"));
  /** What the robot does when a part arrives (the test's stall). */
  let onPart: () => void = () => {};
  beforeAll(async () => {
    emulator = await startEmulator({
      estate: [
        ...Array.from({ length: 300 }, (_, i) => ({ kind: "cvm" as const, id: `ins-l${String(i).padStart(7, "0")}`, tags: { env: "walked" } })),
        ...Array.from({ length: 170 }, (_, i) => ({ kind: "cvm" as const, id: `ins-m${String(i).padStart(7, "0")}`, name: `unauthorized-web-server-${i}`, tags: { env: "told" }, authorized: false })),
      ],
      rateLimit: false,
    });
    robot = await startListener(() => {
      onPart();
      return { status: 200, body: JSON.stringify({ errcode: 0, errmsg: "ok" }) };
    });
  });
  afterAll(async () => {
    await Promise.all([emulator.close(), robot.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /**
   * A run of `group` (100 assets a task) on its own state folder and slot, whose store reads the clock
   * `now`; `sdk` wraps the emulator's client. `walked`: 300 CVMs, three pages and three tasks; `told`: 170
   * unauthorized CVMs, whose WeCom message goes in parts.
   */
  const runOf = (group: "walked" | "told", now: () => number, sdk: (inner: CsipClient) => CsipClient = (inner) => inner) => {
    const state = join(dir, `s${++n}`);
    const slot = new Date(Date.UTC(2026, 10, 29, n));
    const config = parseConfig(
      `version: 1\nstate: { path: ${JSON.stringify(state)} }\nnotifiers:\n  robot: { type: wecom, url: "${robot.url}" }\nassetGroups:\n  walked: { include: [{ tags: { env: walked } }] }\n  told: { include: [{ tags: { env: told } }] }\n` +
        `policies:\n  - { name: held, schedule: "0 0 * * * * *", targets: [${group}], scanItems: [port], maxAssetsPerTask: 100, notify: [robot] }\n`,
      "held.yaml",
      LOCAL_WEBHOOKS,
    );
    const store = new FileStateStore(state, () => {}, now);
    const run = startRun(createServices(config, LOCAL_WEBHOOKS, { sdk: sdk(sdkClient(emulator)), store, logger: silentLogger() }));
    return { state, key: scheduledRunNames("held", slot).recordKey, summary: () => runScheduledScan(run, { policy: "held", scheduledTime: slot, trigger: "timer" }) };
  };
  /** A client that runs `after` once the first create has answered. */
  const afterFirstCreate = (after: () => Promise<void>) => (inner: CsipClient): CsipClient => {
    let creates = 0;
    return {
      call: async <A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>> => {
        const answer = await inner.call(action, request);
        if (action === "CreateRiskCenterScanTask" && ++creates === 1) await after();
        return answer;
      },
    };
  };
  const callsOf = (action: CsipAction, from: number) => emulator.calls.slice(from).filter((c) => c.action === action).length;

  it("taken over mid-walk by another invocation: its next save finds the fence, and its walk ends there, with no further page or create", async () => {
    const from = emulator.calls.length;
    const messages = robot.received.length;
    const taken = { state: "", key: "" };
    const run = runOf("walked", Date.now, afterFirstCreate(async () => {
      // Another invocation, whose clock is two leases ahead, finds the lease lapsed and takes it.
      const other = new FileStateStore(taken.state, () => {}, () => Date.now() + 2 * LEASE_MS);
      await other.withLock(taken.key, { waitMs: 0 }, async () => {});
    }));
    Object.assign(taken, { state: run.state, key: run.key });
    const summary = await run.summary();
    expect(callsOf("CreateRiskCenterScanTask", from)).toBe(1);
    expect(callsOf("DescribeCVMAssets", from)).toBe(1);
    expect(summary.ok).toBe(false);
    expect(summary.errors).toEqual([expect.objectContaining({ code: "LeaseLostError", message: expect.stringContaining("passed to another invocation") })]);
    expect(robot.received).toHaveLength(messages);
  });

  it("stalled past its lease by its own clock mid-walk, no renewal landed: it makes no further create", async () => {
    const from = emulator.calls.length;
    let clock = Date.now();
    const summary = await runOf("walked", () => clock, afterFirstCreate(async () => void (clock += LEASE_MS))).summary();
    expect(callsOf("CreateRiskCenterScanTask", from)).toBe(1);
    expect(summary.errors).toEqual([expect.objectContaining({ code: "LeaseLostError", message: expect.stringContaining("acts no more") })]);
  });

  it("stalled past its lease by its own clock between two parts of its message: it sends no further part", async () => {
    let clock = Date.now();
    const received = robot.received.length;
    onPart = () => void (clock += LEASE_MS);
    try {
      const summary = await runOf("told", () => clock).summary();
      const parts = robot.received.slice(received).map((r) => /\((\d+\/\d+)\)$/m.exec((JSON.parse(r.body) as { markdown: { content: string } }).markdown.content)?.[1]);
      expect(parts).toEqual([expect.stringMatching(/^1\/[2-9]$/)]);
      expect(summary.errors).toEqual([expect.objectContaining({ code: "LeaseLostError", message: expect.stringContaining("acts no more") })]);
    } finally {
      onPart = () => {};
    }
  });
});
