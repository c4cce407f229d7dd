import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scheduledScanHandler } from "../../../functions/scheduled-scan/index.ts";
import { RunFailedError } from "../../../shared/errors.ts";
import { silentLogger } from "../../../shared/log.ts";
import { timerName } from "../../../shared/state/keys.ts";
import { parseConfig } from "../../../shared/config/load.ts";
import { timersOf, type TimerSummary } from "../../../shared/run/timer-run.ts";
import { NOT_RETRIED_WARNING, retrySafe } from "../../../shared/run/summary.ts";
import type { Emulator } from "../../../local/emulator/server.ts";
import { caught, clockAt, envOf, useHandlerWorld, type startListener } from "../../helpers.ts";

// One timer per schedule: what an invocation runs, and in which slot, whatever SCF puts in Time.

const ESTATE = Array.from({ length: 150 }, (_, i) => ({ kind: "cvm" as const, id: `ins-t${String(i).padStart(7, "0")}`, tags: { team: i % 2 ? "a" : "b" } }));
const NIGHTLY = "0 0 3 * * * *";
const TIMER = timerName(NIGHTLY);

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-timer-"));
let count = 0;

/** Two policies on the nightly schedule and one on another; a handler whose clock reads `now`. */
function handler(now: string, state?: string) {
  const n = ++count;
  const file = join(dir, `p${n}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: UTC
state: ${state ?? `{ path: ${join(dir, `state-${n}`)} }`}
retry: { baseMs: 5, capMs: 20, attempts: 2 }
notifiers:
  hook: { type: webhook, url: ${hook.url} }
assetGroups:
  a: { include: [{ tags: { team: a } }] }
  b: { include: [{ tags: { team: b } }] }
policies:
  - { name: team-a, schedule: "${NIGHTLY}", targets: [a], scanItems: [port], notify: [hook], notifyOn: [summary] }
  - { name: team-b, schedule: "0 3 * * *", targets: [b], scanItems: [poc], notify: [hook], notifyOn: [summary] }
  - { name: weekly, schedule: "0 0 4 ? * SUN *", targets: [a], scanItems: [port] }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return scheduledScanHandler({ logger: silentLogger(), clock: clockAt(now) });
}

const event = (TriggerName: string, Time: string, Type = "Timer") => ({ Type, TriggerName, Time, Message: "" });
const taskNames = (): string[] => emulator.state.tasks.map((t) => t.TaskName).sort();

useHandlerWorld(ESTATE, { rateLimit: false }, (world) => ({ emulator, hook } = world));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("one timer per schedule", () => {
  it("runs every policy on its schedule (five fields or seven), sharing one walk of the inventory", async () => {
    const summary = await handler("2026-11-29T03:00:20Z")(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect(summary).toMatchObject({ triggerName: TIMER, schedule: NIGHTLY, scheduledTime: "2026-11-29T03:00:00.000Z", slot: { source: "Time" }, policies: ["team-a", "team-b"], ok: true });
    expect(taskNames()).toEqual(["csip-scan:team-a:20261129T030000Z:1", "csip-scan:team-b:20261129T030000Z:1"]);
    // 150 CVMs in pages of 100: one walk, shared by both policies.
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(2);
    expect(hook.received).toHaveLength(2);
  });

  it("one failing policy does not stop the others; the invocation fails so SCF retries, and the retry redoes only what failed", async () => {
    const h = handler("2026-11-29T03:00:20Z");
    emulator.inject("CreateRiskCenterScanTask", { type: "error", code: "InvalidParameterValue" });
    const error = await caught(h(event(TIMER, "2026-11-29T03:00:00Z"), {}));
    expect(error).toBeInstanceOf(RunFailedError);
    const summary = (error as unknown as RunFailedError).summary as TimerSummary;
    expect(summary.runs.map((r) => r.ok).sort()).toEqual([false, true]);
    expect(emulator.state.tasks).toHaveLength(1);
    const retried = await h(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect(retried.ok).toBe(true);
    expect(taskNames()).toEqual(["csip-scan:team-a:20261129T030000Z:1", "csip-scan:team-b:20261129T030000Z:1"]);
  });

  it("without a durable store, a failed invocation that delivered a message is not retried: SCF's retry would send it again", async () => {
    const h = handler("2026-11-29T03:00:20Z", "{ memory: true }");
    emulator.inject("CreateRiskCenterScanTask", { type: "error", code: "InvalidParameterValue" });
    const summary = await h(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect([summary.ok, summary.retry]).toEqual([false, false]);
    expect(summary.warnings).toContain(NOT_RETRIED_WARNING);
    // Both policies told their run: the failed one too, so people know; nothing is sent twice.
    expect(hook.received).toHaveLength(2);
  });

  it.each([
    ["a durable store: always", true, [{ delivered: true }], true],
    ["memory, nothing delivered: yes", false, [{ delivered: false }], true],
    ["memory, only messages sent before: yes", false, [{ delivered: true, via: "sent before" }], true],
    ["memory, a message delivered now: no", false, [{ delivered: false }, { delivered: true }], false],
  ] as const)("retrySafe with %s", (_, durable, notifications, expected) => {
    expect(retrySafe(durable, [{ notifications: notifications.map((n) => ({ notifier: "n", ...n })) }])).toBe(expected);
  });

  it("a timer named after a policy (deployed before timers were per schedule) runs that policy alone", async () => {
    const summary = await handler("2026-11-29T03:00:20Z")(event("team-b", "2026-11-29T03:00:00Z"), {});
    expect(summary.policies).toEqual(["team-b"]);
    expect(taskNames()).toEqual(["csip-scan:team-b:20261129T030000Z:1"]);
  });

  it("old and new timers firing for the same slot make one task per policy, and one message each", async () => {
    const h = handler("2026-11-29T03:00:20Z");
    await Promise.all([h(event(TIMER, "2026-11-29T03:00:00Z"), {}), h(event("team-a", "2026-11-29T03:00:00Z"), {}), h(event("team-b", "2026-11-29T03:00:00Z"), {})]);
    expect(taskNames()).toEqual(["csip-scan:team-a:20261129T030000Z:1", "csip-scan:team-b:20261129T030000Z:1"]);
    expect(hook.received).toHaveLength(2);
  });

  it("accepts Type in any case", async () => {
    const summary = await handler("2026-11-29T03:00:20Z")(event(TIMER, "2026-11-29T03:00:00Z", "timer"), {});
    expect(summary.ok).toBe(true);
  });
});

describe("the slot does not trust Time", () => {
  it("Time as the trigger's creation time: the latest fire time at or before now, and the summary says why", async () => {
    const summary = await handler("2026-11-29T03:07:00Z")(event(TIMER, "2026-10-02T08:15:42Z"), {});
    expect(summary).toMatchObject({
      scheduledTime: "2026-11-29T03:00:00.000Z",
      slot: { source: "latest fire time", reason: `Time 2026-10-02T08:15:42Z is not a fire time of "${NIGHTLY}" (SCF may give the trigger's creation time)` },
    });
    expect(summary.warnings).toEqual([`the slot is the latest fire time: ${summary.slot!.reason!}`]);
    expect(taskNames()).toEqual(["csip-scan:team-a:20261129T030000Z:1", "csip-scan:team-b:20261129T030000Z:1"]);
  });

  it("SCF's two retries a minute apart, and a redelivery five hours later, use the same slot: no second task", async () => {
    for (const now of ["2026-11-29T03:00:05Z", "2026-11-29T03:01:05Z", "2026-11-29T03:02:05Z", "2026-11-29T08:00:00Z"]) {
      const summary = await handler(now)(event(TIMER, "2026-11-29T03:00:00Z"), {});
      expect([summary.scheduledTime, summary.slot?.source]).toEqual(["2026-11-29T03:00:00.000Z", "Time"]);
    }
    expect(taskNames()).toEqual(["csip-scan:team-a:20261129T030000Z:1", "csip-scan:team-b:20261129T030000Z:1"]);
  });

  it("a Time older than SCF's retry window is not trusted: the latest fire time is the slot", async () => {
    const summary = await handler("2026-11-30T03:30:00Z")(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect(summary).toMatchObject({ scheduledTime: "2026-11-30T03:00:00.000Z", slot: { source: "latest fire time", reason: "Time 2026-11-29T03:00:00Z is older than SCF's retry window" } });
  });

  it("a weekly schedule: the slot is last Sunday's fire time", async () => {
    const weekly = timerName("0 0 4 ? * SUN *");
    const summary = await handler("2026-12-02T10:00:00Z")(event(weekly, "2026-06-01T00:00:00Z"), {});
    expect([summary.policies, summary.scheduledTime]).toEqual([["weekly"], "2026-11-29T04:00:00.000Z"]);
  });
});

describe("a Time ahead of the clock", () => {
  it("an hour in the future is not trusted: the slot is the latest fire time, and the summary says why", async () => {
    const summary = await handler("2026-11-29T02:00:30Z")(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect(summary).toMatchObject({ scheduledTime: "2026-11-28T03:00:00.000Z", slot: { source: "latest fire time", reason: "Time 2026-11-29T03:00:00Z is in the future" } });
    expect(taskNames()).toEqual(["csip-scan:team-a:20261128T030000Z:1", "csip-scan:team-b:20261128T030000Z:1"]);
  });

  it("half a minute ahead (a clock a little behind SCF's) is trusted", async () => {
    const summary = await handler("2026-11-29T02:59:30Z")(event(TIMER, "2026-11-29T03:00:00Z"), {});
    expect([summary.scheduledTime, summary.slot?.source]).toEqual(["2026-11-29T03:00:00.000Z", "Time"]);
  });
});

describe("timers per function", () => {
  /** A policy file with `n` policies, each on its own schedule (minute i of hour 3). */
  const policies = (n: number): string =>
    `version: 1\npolicies:\n${Array.from({ length: n }, (_, i) => `  - { name: p${i}, schedule: "0 ${i} 3 * * * *", urls: [a${i}.example.com], scanItems: [port] }`).join("\n")}\n`;

  it("ten schedules make ten timers, SCF's most of one type on a function: accepted", () => {
    expect(timersOf(parseConfig(policies(10), "ten.yaml", envOf())).map((t) => t.policies.map((p) => p.name))).toEqual(Array.from({ length: 10 }, (_, i) => [`p${i}`]));
  });

  it("eleven are refused, naming the limit", () => {
    expect(() => parseConfig(policies(11), "eleven.yaml", envOf())).toThrow(/11 different schedules, but SCF allows 10 timers on one function/);
  });
});
