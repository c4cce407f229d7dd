import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { silentLogger } from "../../shared/log.ts";
import type { ResultsReport } from "../../shared/notify/results-report.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import { clockAt, startListener, useHandlerWorld } from "../helpers.ts";

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

/** A policy file whose policies scan `group`; the handlers of both functions on a clock that reads `now`. */
function world(group = "web", extra = "") {
  const n = ++count;
  const file = join(dir, `p${n}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: UTC
state: { path: ${join(dir, `state-${n}`)} }
results: { checkEvery: 10m, giveUpAfter: 24h, topFindings: 2 }
notifiers:
  hook: { type: webhook, url: ${hook.url} }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
  broken: { include: [{ tags: { team: broken } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [${group}], scanItems: [port, poc], notify: [hook], notifyOn: [failure, results] }
${extra}`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return {
    scan: (now: string, time = "2026-11-29T03:00:00Z") => scheduledScanHandler({ logger: silentLogger(), clock: clockAt(now) })({ Type: "Timer", TriggerName: "nightly", Time: time }, {}),
    results: (now: string) => scanResultsHandler({ logger: silentLogger(), clock: clockAt(now) })({ Type: "Timer", TriggerName: "csip-scan-results", Time: now }, {}),
  };
}

const told = (): ResultsReport[] => hook.received.map((r) => JSON.parse(r.body) as ResultsReport).filter((b) => b.schema === "csip-scan.results/v1");

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ emulator, hook } = w));

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

  it("a failed run shows no change in its risk count and is not the baseline: the next run compares with the last one done", async () => {
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
      expect([two.status, two.riskCount, two.previous?.scheduledTime, two.riskCountChange]).toEqual(["failed", 0, "2026-11-27T03:00:00.000Z", null]);
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
