import { describe, expect, it } from "vitest";
import { announcementKey, changeRunNames, cooldownKey, parseTaskName, scheduledRunNames, type RunNames } from "../../../shared/state/keys.ts";

// Every name csip-scan gives. Task names are the only idempotency key CSIP offers, so a name that
// changes between versions or retries would create a second task: the exact values are pinned here.

describe("scheduledRunNames", () => {
  const names = scheduledRunNames("nightly-prod", new Date("2026-11-29T03:00:00Z"));

  it("names the tasks csip-scan:POLICY:STAMP:CHUNK", () => {
    expect([names.taskName(1), names.taskName(2), names.taskName(12)]).toEqual([
      "csip-scan:nightly-prod:20261129T030000Z:1",
      "csip-scan:nightly-prod:20261129T030000Z:2",
      "csip-scan:nightly-prod:20261129T030000Z:12",
    ]);
  });

  it("keeps the run's record under run/csip-scan:POLICY:STAMP", () => {
    expect(names.recordKey).toBe("run/csip-scan:nightly-prod:20261129T030000Z");
  });

  it("gives a taskPrefix that starts every task name and ends at the chunk", () => {
    expect(names.taskPrefix).toBe("csip-scan:nightly-prod:20261129T030000Z:");
    for (const n of [1, 2, 3, 10, 200]) expect(names.taskName(n)).toBe(`${names.taskPrefix}${n}`);
  });

  it("does not take the tasks of another policy whose name starts the same for its own", () => {
    const other = scheduledRunNames("nightly-prod-2", new Date("2026-11-29T03:00:00Z"));
    expect(other.taskName(1).startsWith(names.taskPrefix)).toBe(false);
  });

  it.each([
    ["2026-11-29T03:00:00.000Z", "20261129T030000Z"],
    ["2026-11-29T03:00:00.999Z", "20261129T030000Z"],
    ["2026-11-29T11:00:00+08:00", "20261129T030000Z"],
    ["2026-01-02T04:05:06.007Z", "20260102T040506Z"],
    ["2099-12-31T23:59:59Z", "20991231T235959Z"],
  ])("writes the slot %s as %s, in UTC, milliseconds dropped", (time, stamp) => {
    const slot = scheduledRunNames("weekly-all", new Date(time));
    expect([slot.taskName(1), slot.recordKey]).toEqual([`csip-scan:weekly-all:${stamp}:1`, `run/csip-scan:weekly-all:${stamp}`]);
  });

  it("names a deployment's tasks and record with the deployment, so no key of one means another's run", () => {
    const slot = new Date("2026-11-29T03:00:00Z");
    const [dev, prod] = ["dev-ap-guangzhou", "prod-ap-guangzhou"].map((d) => scheduledRunNames("nightly-prod", slot, d)) as [RunNames, RunNames];
    expect([dev.taskName(1), dev.recordKey]).toEqual(["csip-scan-dev-ap-guangzhou:nightly-prod:20261129T030000Z:1", "run/csip-scan-dev-ap-guangzhou:nightly-prod:20261129T030000Z"]);
    expect(prod.recordKey).toBe("run/csip-scan-prod-ap-guangzhou:nightly-prod:20261129T030000Z");
    // Read back from a task name, a run has the record key its run made.
    expect(parseTaskName(dev.taskName(3))?.run.recordKey).toBe(dev.recordKey);
  });

  it("gives other slots and other policies other names", () => {
    const names2 = [
      scheduledRunNames("nightly-prod", new Date("2026-11-29T03:00:00Z")),
      scheduledRunNames("nightly-prod", new Date("2026-11-29T03:00:01Z")),
      scheduledRunNames("nightly-prod", new Date("2026-11-30T03:00:00Z")),
      scheduledRunNames("weekly-all", new Date("2026-11-29T03:00:00Z")),
    ];
    expect(new Set(names2.map((n) => n.recordKey)).size).toBe(4);
    expect(new Set(names2.map((n) => n.taskPrefix)).size).toBe(4);
  });
});

describe("changeRunNames", () => {
  const EVENTS = [
    { id: "evt-1", assets: ["ins-a"] },
    { id: "evt-2", assets: ["ins-b"] },
  ];
  const BATCH = "csip-scan:prod-on-change:evt-b87ff5b5de2032ee:";

  it("names the batch evt- and 16 hex digits of the SHA-256 of its sorted lines, each an event ID, a tab and its sorted assets", () => {
    // printf 'evt-1\tins-a\nevt-2\tins-b' | sha256sum
    const names = changeRunNames("prod-on-change", EVENTS);
    expect([names.taskPrefix, names.taskName(1), names.recordKey]).toEqual([`${BATCH}`, `${BATCH}1`, `run/${BATCH.slice(0, -1)}`]);
  });

  it("names the batch of one official event", () => {
    // printf '13a3f42d-7258-4ada-da6d-023a33000001\tins-new00001' | sha256sum
    expect(changeRunNames("prod-on-change", [{ id: "13a3f42d-7258-4ada-da6d-023a33000001", assets: ["ins-new00001"] }]).taskPrefix).toBe("csip-scan:prod-on-change:evt-3a9d495ef8304b6b:");
  });

  it.each([
    [[EVENTS[1]!, EVENTS[0]!]],
    [[...EVENTS, EVENTS[0]!]],
    [[EVENTS[0]!, { id: "evt-2", assets: ["ins-b", "ins-b"] }]],
  ])("gives the events %j, in any order or repeated, the same names", (events) => {
    expect(changeRunNames("prod-on-change", events)).toMatchObject({ taskPrefix: BATCH, recordKey: `run/${BATCH.slice(0, -1)}` });
  });

  it.each([
    ["one event fewer", [EVENTS[0]!]],
    ["one event more", [...EVENTS, { id: "evt-3", assets: ["ins-c"] }]],
    ["an event ID reused for another asset", [EVENTS[0]!, { id: "evt-2", assets: ["ins-c"] }]],
    ["an event naming one asset more", [EVENTS[0]!, { id: "evt-2", assets: ["ins-b", "ins-c"] }]],
    ["the assets swapped between the events", [{ id: "evt-1", assets: ["ins-b"] }, { id: "evt-2", assets: ["ins-a"] }]],
    ["the IDs in upper case", [{ id: "EVT-1", assets: ["ins-a"] }, { id: "EVT-2", assets: ["ins-b"] }]],
  ])("gives %s other names", (_, events) => {
    const names = changeRunNames("prod-on-change", events);
    expect(names.taskPrefix).toMatch(/^csip-scan:prod-on-change:evt-[0-9a-f]{16}:$/);
    expect(names.taskPrefix).not.toBe(BATCH);
  });

  it("gives the same events under another policy other names", () => {
    expect(changeRunNames("staging-on-change", EVENTS).taskPrefix).toBe("csip-scan:staging-on-change:evt-b87ff5b5de2032ee:");
  });

  it("never looks like a scheduled slot", () => {
    expect(changeRunNames("prod-on-change", EVENTS).taskPrefix).toMatch(/^csip-scan:prod-on-change:evt-[0-9a-f]{16}:$/);
  });
});

describe("cooldownKey", () => {
  it.each([
    ["prod-on-change", "ins-new00001", "cooldown/prod-on-change/ins-new00001"],
    ["prod-on-change", "cvm:ins-new00001", "cooldown/prod-on-change/cvm:ins-new00001"],
    ["staging-on-change", "106.52.96.220", "cooldown/staging-on-change/106.52.96.220"],
  ])("of %s and %s is %s", (policy, asset, key) => {
    expect(cooldownKey(policy, asset)).toBe(key);
  });
});

describe("announcementKey", () => {
  it.each([
    ["nightly-prod", "secops", false, "announced/nightly-prod/secops"],
    ["nightly-prod", "secops", true, "announced/change:nightly-prod/secops"],
    ["nightly-prod", "oncall", false, "announced/nightly-prod/oncall"],
  ])("of %s to %s, event-driven %s, is %s", (policy, notifier, eventDriven, key) => {
    expect(announcementKey(policy, notifier, eventDriven)).toBe(key);
  });

  it("keeps event-driven runs apart from scheduled ones, and notifiers apart", () => {
    const keys = [
      announcementKey("nightly-prod", "secops", false),
      announcementKey("nightly-prod", "secops", true),
      announcementKey("nightly-prod", "oncall", false),
      announcementKey("nightly-prod", "oncall", true),
      announcementKey("weekly-all", "secops", false),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("never collides with a run record or a cooldown", () => {
    const others = [scheduledRunNames("nightly-prod", new Date("2026-11-29T03:00:00Z")).recordKey, cooldownKey("nightly-prod", "secops")];
    expect(others).not.toContain(announcementKey("nightly-prod", "secops", false));
  });
});
