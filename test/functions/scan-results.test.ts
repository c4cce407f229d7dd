import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { silentLogger } from "../../shared/log.ts";
import type { ResultsReport } from "../../shared/notify/results-report.ts";
import type { RunFailedError } from "../../shared/errors.ts";
import type { ScanResultsSummary } from "../../shared/run/scan-results.ts";
import { historyKey } from "../../shared/state/keys.ts";
import { FileStateStore, type StateStore } from "../../shared/state/store.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import { caught, clockAt, startListener, useHandlerWorld, type Captured } from "../helpers.ts";

// Scan results end to end: a policy run makes tasks, the emulator runs them to their end, and the
// scan-results function tells the webhook (a listener on 127.0.0.1) what they found, once.

const RISKY: EstateAssetInput["risks"] = [
  { kind: "vul", level: "high", name: "Curl authentication bypass", cve: "CVE-2023-27536", fix: "Upgrade curl to 8.0.1 or later, then restart the services that link libcurl." },
  { kind: "port", level: "middle", name: "redis", port: 6379 },
  { kind: "weakPassword", level: "extreme", name: "ssh", fix: "Set a strong password for root." },
];

const ESTATE: EstateAssetInput[] = [
  { kind: "cvm", id: "ins-res00001", name: "web-1", tags: { team: "web" }, risks: RISKY },
  { kind: "cvm", id: "ins-res00002", name: "web-2", tags: { team: "web" } },
  { kind: "cvm", id: "ins-res00003", name: "broken", tags: { team: "broken" }, scanError: "agent offline: the scan engine could not reach the host" },
];

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-results-"));
let count = 0;

/** How a test's policy file differs from the plain one. */
interface WorldOptions {
  /** Extra notifiers (YAML lines under `notifiers:`) and whom the policy notifies. */
  notifiers?: string;
  notify?: string;
  /** Other settings, YAML lines at the top level. */
  settings?: string;
  /** Remember in memory only: the state folder cannot be made (a file stands where it should be). */
  memory?: boolean;
  /** Backoffs of deliveries and retries take no time (the arithmetic is tested elsewhere). */
  instantSleep?: boolean;
}

/** A policy file whose policies scan `group`; the handlers of both functions on a clock that reads `now`. */
function world(group = "web", extra = "", options: WorldOptions = {}) {
  const n = ++count;
  const file = join(dir, `p${n}.yaml`);
  let state = join(dir, `state-${n}`);
  if (options.memory) {
    writeFileSync(state, "a file where the state folder should be");
    state = join(state, "state");
  }
  writeFileSync(
    file,
    `version: 1
timezone: UTC
state: { path: ${state} }
results: { checkEvery: 10m, giveUpAfter: 24h, topFindings: 2 }
${options.settings ?? ""}
notifiers:
  hook: { type: webhook, url: ${hook.url} }
${options.notifiers ?? ""}
assetGroups:
  web: { include: [{ tags: { team: web } }] }
  broken: { include: [{ tags: { team: broken } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [${group}], scanItems: [port, poc], notify: [${options.notify ?? "hook"}], notifyOn: [failure, results] }
${extra}`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  const clock = (now: string) => (options.instantSleep ? { now: clockAt(now).now, sleep: async () => {} } : clockAt(now));
  return {
    state,
    scan: (now: string, time = "2026-11-29T03:00:00Z") => scheduledScanHandler({ logger: silentLogger(), clock: clock(now) })({ Type: "Timer", TriggerName: "nightly", Time: time }, {}),
    results: (now: string, store?: StateStore) => scanResultsHandler({ logger: silentLogger(), clock: clock(now), ...(store ? { store } : {}) })({ Type: "Timer", TriggerName: "csip-scan-results", Time: now }, {}),
  };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const told = (): ResultsReport[] => hook.received.map((r) => JSON.parse(r.body) as ResultsReport).filter((b) => b.schema === "csip-scan.results/v1");

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ emulator, hook } = w));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scan-results main_handler", () => {
  it("a finished task: one message with its risk count, report link and worst findings; a second look sends nothing more", async () => {
    const w = world();
    await w.scan("2026-11-29T03:00:05Z");
    const first = await w.results("2026-11-29T03:10:00Z");
    expect(first).toMatchObject({ source: "state store", open: 1, waiting: [], ok: true });
    expect(first.told.map((t) => [t.policy, t.status, t.riskCount])).toEqual([["nightly", "risks found", 3]]);
    const [report] = told();
    expect(report).toMatchObject({ policy: "nightly", trigger: "timer", scheduledTime: "2026-11-29T03:00:00.000Z", status: "risks found", riskCount: 3, findingsTotal: 3, stillRunning: [], previous: null });
    expect(report!.tasks).toEqual([
      expect.objectContaining({ status: "done", assets: 2, assetsScanned: 2, riskCount: 3, reportUrl: expect.stringMatching(new RegExp(`^${emulator.url}/reports/rpt-[0-9a-f]+\\.pdf$`)) }),
    ]);
    // topFindings: 2, most severe first, with CSIP's fix text.
    expect(report!.findings.map((f) => [f.level, f.asset, f.name, f.fix ?? ""])).toEqual([
      ["extreme", "ins-res00001", "weak password (ssh)", "Set a strong password for root."],
      ["high", "ins-res00001", "Curl authentication bypass", "Upgrade curl to 8.0.1 or later, then restart the services that link libcurl."],
    ]);
    expect((await fetch(report!.tasks[0]!.reportUrl!)).headers.get("content-type")).toContain("pdf");

    const second = await w.results("2026-11-29T03:20:00Z");
    expect([second.open, second.told]).toEqual([0, []]);
    expect(told()).toHaveLength(1);
  });

  it("a failed task's message carries CSIP's error", async () => {
    const w = world("broken");
    await w.scan("2026-11-29T03:00:05Z");
    await w.results("2026-11-29T03:10:00Z");
    expect(told().map((r) => [r.status, r.tasks.map((t) => [t.status, t.error])])).toEqual([
      ["failed", [["failed", "agent offline: the scan engine could not reach the host"]]],
    ]);
  });

  it("waits while a task runs; after giveUpAfter it tells what is known and what still runs", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 48 * 3_600_000 };
    const w = world();
    await w.scan("2026-11-29T03:00:05Z");
    const waiting = await w.results("2026-11-29T03:10:00Z");
    expect([waiting.told, waiting.waiting.map((r) => r.reason)]).toEqual([[], ["0 of 1 task(s) ended"]]);
    expect(told()).toEqual([]);
    await w.results("2026-11-30T03:10:00Z");
    expect(told().map((r) => [r.status, r.stillRunning.length, r.tasks[0]!.status])).toEqual([["incomplete", 1, "scanning"]]);
  });

  it("three runs of one policy, compared: risks up, then down to zero (all clear)", async () => {
    const assets = emulator.state.estate;
    const web1 = assets.find((a) => a.id === "ins-res00001")!;
    const w = world();
    const runAt = async (day: string, risks: EstateAssetInput["risks"]) => {
      web1.risks = risks;
      await w.scan(`2026-11-${day}T03:00:05Z`, `2026-11-${day}T03:00:00Z`);
      await w.results(`2026-11-${day}T03:10:00Z`);
      return told().at(-1)!;
    };
    try {
      const one = await runAt("27", RISKY!.slice(0, 1));
      expect([one.riskCount, one.previous, one.riskCountChange]).toEqual([1, null, null]);
      const two = await runAt("28", RISKY);
      expect([two.riskCount, two.riskCountChange, two.newFindingsCount, two.goneFindingsCount]).toEqual([3, 2, 2, 0]);
      // The webhook's JSON keeps ISO UTC, and adds the time as people read it in the policy file's zone.
      expect(two.previous).toEqual({ scheduledTime: "2026-11-27T03:00:00.000Z", riskCount: 1, scheduledTimeLocal: "2026-11-27 03:00 (UTC)" });
      expect(two.newFindings.map((f) => f.name).sort()).toEqual(["open port 6379/tcp (redis)", "weak password (ssh)"]);
      const three = await runAt("29", []);
      expect([three.status, three.riskCount, three.riskCountChange, three.newFindingsCount, three.goneFindingsCount]).toEqual(["all clear", 0, -3, 0, 3]);
    } finally {
      web1.risks = RISKY;
    }
  });

  it("a failed run is compared with nothing and is not the baseline: the next run compares with the last one done", async () => {
    const web2 = emulator.state.estate.find((a) => a.id === "ins-res00002")!;
    const w = world();
    const runAt = async (day: string) => {
      await w.scan(`2026-11-${day}T03:00:05Z`, `2026-11-${day}T03:00:00Z`);
      await w.results(`2026-11-${day}T03:10:00Z`);
      return told().at(-1)!;
    };
    try {
      const one = await runAt("27");
      web2.scanError = "agent offline";
      const two = await runAt("28");
      delete web2.scanError;
      const three = await runAt("29");
      expect([one.status, one.riskCount]).toEqual(["risks found", 3]);
      // No comparison for a run whose tasks did not all end done: nothing new, nothing gone, no change.
      expect([two.status, two.riskCount, two.previous, two.riskCountChange, two.newFindingsCount, two.goneFindingsCount]).toEqual(["failed", 0, null, null, 0, 0]);
      expect([three.status, three.previous, three.riskCountChange]).toEqual(["risks found", { scheduledTime: "2026-11-27T03:00:00.000Z", riskCount: 3, scheduledTimeLocal: "2026-11-27 03:00 (UTC)" }, 0]);
    } finally {
      delete web2.scanError;
    }
  });

  it("two looks at once tell a run once", async () => {
    const w = world();
    await w.scan("2026-11-29T03:00:05Z");
    await Promise.all([w.results("2026-11-29T03:10:00Z"), w.results("2026-11-29T03:10:00Z"), w.results("2026-11-29T03:10:00Z")]);
    expect(told()).toHaveLength(1);
  });

  it("a look that finds its policy's history held by another invocation keeps the run waiting, says why, and the next look tells it", async () => {
    const w = world();
    await w.scan("2026-11-29T03:00:05Z");
    const history = new FileStateStore(w.state);
    const leave = deferred();
    const holding = deferred();
    const held = history.withLock(historyKey("nightly"), { waitMs: 0 }, async () => {
      holding.resolve();
      await leave.promise;
    });
    await holding.promise;
    // The look's store waits for the history lock on an emulated clock: its 10 s pass at once.
    let slept = 0;
    const look = new FileStateStore(w.state, () => {}, () => Date.now() + slept, { sleep: async (ms) => void (slept += ms) });
    const first = await w.results("2026-11-29T03:10:00Z", look);
    expect(first.told).toEqual([]);
    expect(first.waiting).toEqual([{ run: expect.stringContaining("csip-scan:nightly:"), reason: expect.stringMatching(/^another invocation is working on results-history\/nightly.*; the next look tells it$/) }]);
    expect(told()).toEqual([]);
    leave.resolve();
    await held;
    const second = await w.results("2026-11-29T03:20:00Z");
    expect(second.told.map((t) => t.policy)).toEqual(["nightly"]);
    expect(told()).toHaveLength(1);
  });

  it("a policy that does not ask for results (notifyOn) is not told, and its run is closed", async () => {
    const w = world("web", "  - { name: quiet, schedule: \"0 0 3 * * * *\", targets: [web], scanItems: [port], notify: [hook], notifyOn: [failure] }\n");
    await scheduledScanHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "quiet", Time: "2026-11-29T03:00:00Z" }, {});
    const looked = await w.results("2026-11-29T03:10:00Z");
    expect(looked.told.map((t) => [t.policy, t.status])).toEqual([["quiet", "not asked for (notifyOn)"]]);
    expect(told()).toEqual([]);
    expect((await w.results("2026-11-29T03:20:00Z")).open).toBe(0);
  });
});

describe("without a shared state store", () => {
  it("runs are found by their task names, and each is told by the look whose slot its end falls in", async () => {
    const blocked = join(dir, "not-a-folder");
    writeFileSync(blocked, "a file where the state folder should be");
    const w = world("web");
    const file = process.env.CSIP_SCAN_CONFIG!;
    writeFileSync(file, readFileSync(file, "utf8").replace(/state: \{ path: [^}]+\}/, `state: { path: ${join(blocked, "state")} }`));
    // The emulator's clock reads like the functions': the task ends at 03:00:05, in the slot of the 03:10 look.
    emulator.state.now = clockAt("2026-11-29T03:00:05Z").now;
    await w.scan("2026-11-29T03:00:05Z");
    // Each look is another SCF instance: a new handler, memory of its own.
    const first = await w.results("2026-11-29T03:10:00Z");
    expect(first.source).toBe("task list");
    expect(first.told.map((t) => t.policy)).toEqual(["nightly"]);
    const next = await w.results("2026-11-29T03:20:00Z");
    expect(next.told).toEqual([]);
    expect(told()).toHaveLength(1);
  });
});

describe("each notifier told once, whatever fails or changes", () => {
  it("the message is stored with the run's record before it is first sent", async () => {
    const order: string[] = [];
    const watch = await startListener(() => {
      order.push("sent");
      return { status: 200 };
    });
    try {
      const w = world("web", "", { notifiers: `  watch: { type: webhook, url: ${watch.url} }`, notify: "watch" });
      await w.scan("2026-11-29T03:00:05Z");
      const files = new FileStateStore(w.state);
      const store: StateStore = Object.assign(Object.create(files) as FileStateStore, {
        set: async (key: string, value: unknown) => {
          await files.set(key, value);
          if (key.startsWith("results/") && (value as { message?: unknown }).message) order.push("stored");
        },
      });
      await w.results("2026-11-29T03:10:00Z", store);
      expect(order.slice(0, 2)).toEqual(["stored", "sent"]);
    } finally {
      await watch.close();
    }
  });

  /** A second webhook that answers 500 until told otherwise. */
  const failingBackup = async () => {
    let failing = true;
    const backup = await startListener(() => ({ status: failing ? 500 : 200 }));
    return { backup, recover: () => (failing = false) };
  };
  const results = (received: Captured[]): Captured[] => received.filter((r) => JSON.parse(r.body).schema === "csip-scan.results/v1");

  it("a notifier failing on every look: the others get the message once, and the failing one gets the same bytes and webhook-id when it recovers", async () => {
    const { backup, recover } = await failingBackup();
    const web1 = emulator.state.estate.find((a) => a.id === "ins-res00001")!;
    try {
      const w = world("web", "", { notifiers: `  backup: { type: webhook, url: ${backup.url} }`, notify: "hook, backup", instantSleep: true });
      await w.scan("2026-11-29T03:00:05Z");
      const looks = [];
      for (const [i, now] of ["2026-11-29T03:10:00Z", "2026-11-29T03:20:00Z", "2026-11-29T03:30:00Z"].entries()) {
        // What a rebuilt message would say changes between looks: the current findings.
        web1.risks = RISKY!.slice(0, i + 1);
        looks.push(await caught(w.results(now)));
      }
      expect(results(hook.received)).toHaveLength(1);
      // Each look tried the failing notifier again (4 attempts each): it was never taken as told, nor the run closed.
      expect(results(backup.received)).toHaveLength(12);
      for (const error of looks) {
        const summary = (error as unknown as RunFailedError).summary as ScanResultsSummary;
        expect([summary.open, summary.ok, summary.told.map((t) => t.notifications.map((n) => n.delivered))]).toEqual([1, false, [[true, false]]]);
      }
      recover();
      const last = await w.results("2026-11-29T03:40:00Z");
      expect(last.told[0]!.notifications.map((n) => [n.notifier, n.delivered, n.via])).toEqual([["hook", true, "sent before"], ["backup", true, undefined]]);
      const [secops] = results(hook.received);
      for (const r of results(backup.received)) {
        expect(r.body).toBe(secops!.body);
        expect(r.headers["webhook-id"]).toBe(secops!.headers["webhook-id"]);
      }
      expect((await w.results("2026-11-29T03:50:00Z")).open).toBe(0);
      expect(results(hook.received)).toHaveLength(1);
    } finally {
      web1.risks = RISKY;
      await backup.close();
    }
  });

  it("without a durable store: a failed delivery does not make SCF retry once another was delivered, and a retry anyway carries the same webhook-id", async () => {
    const { backup } = await failingBackup();
    const web1 = emulator.state.estate.find((a) => a.id === "ins-res00001")!;
    try {
      const w = world("web", "", { notifiers: `  backup: { type: webhook, url: ${backup.url} }`, notify: "hook, backup", memory: true, instantSleep: true });
      emulator.state.now = clockAt("2026-11-29T03:00:05Z").now;
      await w.scan("2026-11-29T03:00:05Z");
      // Resolves: SCF retries only an invocation that fails, and its retry would not know what was sent.
      const first = await w.results("2026-11-29T03:10:00Z");
      expect([first.source, first.ok, first.retry]).toEqual(["task list", false, false]);
      expect(first.warnings).toEqual([expect.stringMatching(/^not retried: without a durable state store/)]);
      expect(results(hook.received)).toHaveLength(1);
      // Should SCF retry anyway (a timeout, a crash), another instance rebuilds the run's message, which
      // may read otherwise (a finding fixed meanwhile), under the same webhook-id: a Standard Webhooks
      // receiver drops it as seen.
      web1.risks = RISKY!.slice(0, 1);
      await w.results("2026-11-29T03:10:00Z");
      const [sent, resent] = results(hook.received);
      expect(resent!.body).not.toBe(sent!.body);
      expect(resent!.headers["webhook-id"]).toBe(sent!.headers["webhook-id"]);
    } finally {
      web1.risks = RISKY;
      await backup.close();
    }
  });

  it("without a durable store: a run that ends exactly at a look's slot minus checkEvery is told by exactly one look, the earlier", async () => {
    // Emulated time that stands still: the task is made at 03:00:00.000 and ends at 03:10:00.000 exactly.
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 10 * 60_000 };
    const w = world("web", "", { memory: true });
    emulator.state.now = () => Date.parse("2026-11-29T03:00:00Z");
    await w.scan("2026-11-29T03:00:05Z");
    const toldAt: string[] = [];
    for (const now of ["03:10", "03:20", "03:30"].map((t) => `2026-11-29T${t}:00Z`)) {
      emulator.state.now = () => Date.parse(now);
      if ((await w.results(now)).told.length > 0) toldAt.push(now);
    }
    expect(toldAt).toEqual(["2026-11-29T03:10:00Z"]);
    expect(told()).toHaveLength(1);
  });

  it("without a durable store: a scan that lasts longer than checkEvery is told once, by the look after it ends", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 30 * 60_000 };
    const w = world("web", "", { memory: true });
    emulator.state.now = clockAt("2026-11-29T03:00:05Z").now;
    await w.scan("2026-11-29T03:00:05Z");
    const toldAt: string[] = [];
    for (const now of ["03:10", "03:20", "03:30", "03:40", "03:50"].map((t) => `2026-11-29T${t}:00Z`)) {
      emulator.state.now = clockAt(now).now;
      if ((await w.results(now)).told.length > 0) toldAt.push(now);
    }
    expect(toldAt).toEqual(["2026-11-29T03:40:00Z"]);
    expect(told().map((r) => r.status)).toEqual(["risks found"]);
  });
});

describe("true messages", () => {
  it("a run whose task was deleted by hand reads as failed, and is compared with nothing", async () => {
    const w = world();
    await w.scan("2026-11-27T03:00:05Z", "2026-11-27T03:00:00Z");
    await w.results("2026-11-27T03:10:00Z");
    await w.scan("2026-11-28T03:00:05Z", "2026-11-28T03:00:00Z");
    emulator.state.tasks = emulator.state.tasks.filter((t) => !t.TaskName.includes("20261128T"));
    await w.results("2026-11-28T03:10:00Z");
    const [first, second] = told();
    expect([first!.status, first!.riskCount]).toEqual(["risks found", 3]);
    expect([second!.status, second!.tasks.map((t) => t.status), second!.previous, second!.riskCountChange, second!.goneFindingsCount, second!.newFindingsCount]).toEqual([
      "failed",
      ["not found"],
      null,
      null,
      0,
      0,
    ]);
  });

  it.each([
    ["the report lookup keeps failing", () => emulator.inject("DescribeTaskLogList", { type: "error", code: "InternalError" }, 1000), /InternalError/],
    ["the report never comes", () => (emulator.state.reportDelayMs = 365 * 86_400_000), /^no report yet for rmis-/],
  ] as const)("%s: the message waits until giveUpAfter, then goes without the links and says so", async (_, fault, reason) => {
    const w = world("web", "", { instantSleep: true });
    await w.scan("2026-11-29T03:00:05Z");
    fault();
    const before = await w.results("2026-11-29T03:10:00Z").catch((e: RunFailedError) => e.summary as ScanResultsSummary);
    expect(before.told).toEqual([]);
    expect(told()).toEqual([]);
    const after = await w.results("2026-11-30T03:10:00Z");
    expect(after.told.map((t) => t.status)).toEqual(["risks found"]);
    const [report] = told();
    expect(report!.tasks[0]!.reportUrl).toBeUndefined();
    expect(report!.missing).toEqual([{ part: "report links", reason: expect.stringMatching(reason) }]);
    expect(report!.findingsTotal).toBe(3);
  });

  it("the risk lists keep failing: after giveUpAfter the message goes without findings, says so, and compares with nothing", async () => {
    const w = world("web", "", { instantSleep: true });
    await w.scan("2026-11-28T03:00:05Z", "2026-11-28T03:00:00Z");
    await w.results("2026-11-28T03:10:00Z");
    await w.scan("2026-11-29T03:00:05Z");
    for (const action of ["DescribeRiskCenterAssetViewVULRiskList", "DescribeRiskCenterAssetViewPortRiskList", "DescribeRiskCenterAssetViewWeakPasswordRiskList", "DescribeRiskCenterAssetViewCFGRiskList"]) {
      emulator.inject(action, { type: "error", code: "InternalError" }, 1000);
    }
    expect((await caught(w.results("2026-11-29T03:10:00Z"))).name).toBe("RunFailedError");
    await w.results("2026-11-30T03:10:00Z");
    const report = told().at(-1)!;
    expect([report.scheduledTime, report.findingsTotal, report.previous, report.goneFindingsCount]).toEqual(["2026-11-29T03:00:00.000Z", 0, null, 0]);
    expect(report.missing).toEqual([{ part: "findings", reason: expect.stringMatching(/InternalError/) }]);
  });
});

describe("no duplicate task left behind", () => {
  /** A run whose chunk-1 create answered 502 and landed after the run's last look: two tasks of one name. */
  async function lateTwins() {
    // Every request reads one second later, so the two tasks' InsertTimes differ.
    let tick = Date.parse("2026-11-29T03:00:00Z");
    emulator.state.now = () => (tick += 1000);
    // Waits take no time: the run's looks are ordered by its requests, not by the machine's speed.
    const w = world("web", "", { settings: "retry: { baseMs: 5, capMs: 20, attempts: 3 }", instantSleep: true });
    // The first create answers 502 and lands when the test lets it, after the run looked twice and made another.
    emulator.inject("CreateRiskCenterScanTask", { type: "late", answer: { type: "http", status: 502 } });
    const scan = await w.scan("2026-11-29T03:00:05Z");
    await emulator.settle({ late: "land" });
    const twins = [...emulator.state.tasks].sort((a, b) => a.InsertTime.localeCompare(b.InsertTime));
    expect(twins.map((t) => t.TaskName)).toEqual(["csip-scan:nightly:20261129T030000Z:1", "csip-scan:nightly:20261129T030000Z:1"]);
    const [oldest, newest] = twins as [(typeof twins)[number], (typeof twins)[number]];
    expect(oldest.InsertTime < newest.InsertTime).toBe(true);
    // The run recorded the newer one: the late one is older, as CSIP inserted it when the request came.
    expect(scan.runs[0]!.tasks.map((t) => t.taskId)).toEqual([newest.TaskId]);
    return { w, oldest, newest };
  }

  it("a create that lands after the run's last look: the next results look keeps the oldest, stops and deletes the other, and says so", async () => {
    const { w, oldest, newest } = await lateTwins();
    const look = await w.results("2026-11-29T03:10:00Z");
    expect(emulator.state.tasks.map((t) => t.TaskId)).toEqual([oldest.TaskId]);
    expect(emulator.callsOf("DeleteRiskScanTask").map((c) => c.params.TaskIdList)).toEqual([[{ TaskId: newest.TaskId, TargetAppId: String(newest.AppId) }]]);
    expect(look.duplicatesRemoved).toEqual([{ taskName: oldest.TaskName, kept: oldest.TaskId, removed: [newest.TaskId], failed: [] }]);
    expect(look.warnings).toEqual([`CSIP held 2 tasks named "${oldest.TaskName}" (a create that landed late); kept the oldest, ${oldest.TaskId}, stopped and deleted ${newest.TaskId}`]);
    // The run's results are the kept task's, and say what was removed.
    const [report] = told();
    expect(report!.tasks.map((t) => [t.taskId, t.status])).toEqual([[oldest.TaskId, "done"]]);
    expect(report!.duplicatesRemoved).toEqual([{ taskName: oldest.TaskName, kept: oldest.TaskId, removed: [newest.TaskId] }]);
  });

  it("a duplicate that could not be removed: the run still reads the kept task, and the look says what failed", async () => {
    const { w, oldest, newest } = await lateTwins();
    emulator.inject("DeleteRiskScanTask", { type: "error", code: "InternalError" });
    // Not a failed look: the next one finds the duplicate again and removes it.
    const look = await w.results("2026-11-29T03:10:00Z");
    expect(look.duplicatesRemoved).toEqual([
      { taskName: oldest.TaskName, kept: oldest.TaskId, removed: [], failed: [{ taskId: newest.TaskId, message: expect.stringContaining("InternalError") }] },
    ]);
    expect(told().map((r) => [r.status, r.tasks.map((t) => t.taskId)])).toEqual([["risks found", [oldest.TaskId]]]);
    expect((await w.results("2026-11-29T03:20:00Z")).duplicatesRemoved).toEqual([{ taskName: oldest.TaskName, kept: oldest.TaskId, removed: [newest.TaskId], failed: [] }]);
  });
});
