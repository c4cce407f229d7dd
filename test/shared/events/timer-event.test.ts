import { describe, expect, it } from "vitest";
import { EventError } from "../../../shared/errors.ts";
import { parseTimerEvent, policyNamedByMessage, type TimerEvent } from "../../../shared/events/timer-event.ts";
import timerFixture from "../../fixtures/events/timer.json" with { type: "json" };

// The event SCF passes to a timer-triggered function (https://cloud.tencent.com/document/product/583/9708).

/** The documented example, word for word. */
const DOCUMENTED = { Type: "Timer", TriggerName: "EveryDay", Time: "2019-02-21T11:49:00Z", Message: "user define msg body" };

/** The EventError an event is rejected with. */
function rejection(event: unknown): EventError {
  try {
    parseTimerEvent(event);
  } catch (error) {
    if (error instanceof EventError) return error;
    throw error;
  }
  throw new Error("expected an EventError");
}

/** DOCUMENTED without `field`. */
function without(field: keyof typeof DOCUMENTED): Record<string, string> {
  const { [field]: _, ...rest } = DOCUMENTED;
  return rest;
}

describe("parseTimerEvent", () => {
  it("reads the documented example as it is", () => {
    expect(parseTimerEvent(DOCUMENTED)).toEqual(DOCUMENTED);
  });

  it("reads the project's fixture, with its empty Message", () => {
    expect(parseTimerEvent(timerFixture)).toEqual({ Type: "Timer", TriggerName: "nightly-prod", Time: "2026-11-29T03:00:00Z", Message: "" });
  });

  it.each([
    ["without Message", without("Message"), { Type: "Timer", TriggerName: "EveryDay", Time: "2019-02-21T11:49:00Z" }],
    ["with an offset in Time", { ...DOCUMENTED, Time: "2019-02-21T19:49:00+08:00" }, { ...DOCUMENTED, Time: "2019-02-21T19:49:00+08:00" }],
    ["with milliseconds in Time", { ...DOCUMENTED, Time: "2019-02-21T11:49:00.000Z" }, { ...DOCUMENTED, Time: "2019-02-21T11:49:00.000Z" }],
    ["with a field SCF may add, dropped", { ...DOCUMENTED, Source: "timer" }, DOCUMENTED],
  ])("accepts an event %s", (_, event, parsed) => {
    expect(parseTimerEvent(event)).toEqual(parsed);
  });

  it.each([["TriggerName"], ["Time"]] as const)("without %s: EventError at that path, 'is required'", (field) => {
    const error = rejection(without(field));
    expect([error.path, error.message]).toEqual([field, `invalid event at ${field}: is required`]);
  });

  // Like the other missing fields (a z.literal used to report a missing Type as a wrong value).
  it("without Type: EventError at that path, 'is required'", () => {
    const error = rejection(without("Type"));
    expect([error.path, error.message]).toEqual(["Type", "invalid event at Type: is required"]);
  });

  it.each([
    ["yesterday"],
    ["2019-02-21"],
    ["2019-02-21T11:49:00"],
    ["2019-02-21 11:49:00Z"],
    ["21/02/2019 11:49"],
  ])("Time %j: EventError naming the ISO 8601 form", (time) => {
    const error = rejection({ ...DOCUMENTED, Time: time });
    expect([error.path, error.message]).toEqual(["Time", "invalid event at Time: must be an ISO 8601 time such as 2026-11-29T03:00:00Z"]);
  });

  it.each<[string, string, string, unknown]>([
    ["another Type", "Type", 'must be "Timer"', { ...DOCUMENTED, Type: "Cos" }],
    ["an empty TriggerName", "TriggerName", "Too small: expected string to have >=1 characters", { ...DOCUMENTED, TriggerName: "" }],
    ["a numeric Time", "Time", "Invalid input: expected string, received number", { ...DOCUMENTED, Time: 1550749740000 }],
    ["a numeric Message", "Message", "Invalid input: expected string, received number", { ...DOCUMENTED, Message: 1 }],
  ])("%s: EventError at %s", (_, path, message, event) => {
    const error = rejection(event);
    expect([error.path, error.message]).toEqual([path, `invalid event at ${path}: ${message}`]);
  });

  it.each([
    ["null", null, "null"],
    ["text", "Timer", "string"],
    ["a list", [DOCUMENTED], "array"],
  ])("%s is not an event: EventError without a path", (_, event, received) => {
    const error = rejection(event);
    expect([error.path, error.message]).toEqual(["", `invalid event: Invalid input: expected object, received ${received}`]);
  });
});

describe("policyNamedByMessage", () => {
  const KNOWN = ["nightly-prod", "weekly-all", "EveryDay"];
  const timer = (TriggerName: string, Message?: string): TimerEvent => ({
    Type: "Timer",
    TriggerName,
    Time: "2026-11-29T03:00:00Z",
    ...(Message === undefined ? {} : { Message }),
  });

  it.each<[string, TimerEvent, string | undefined]>([
    ["a Message naming a known policy", timer("nightly-prod", "weekly-all"), "weekly-all"],
    ["a known policy in Message, spaces trimmed", timer("nightly-prod", "  weekly-all\n"), "weekly-all"],
    ["an unknown Message names none", timer("nightly-prod", "user define msg body"), undefined],
    ["a Message that differs in case is unknown", timer("nightly-prod", "Weekly-All"), undefined],
    ["an empty Message names none", timer("nightly-prod", ""), undefined],
    ["a blank Message names none", timer("nightly-prod", "   "), undefined],
    ["no Message names none", timer("weekly-all"), undefined],
  ])("%s", (_, event, policy) => {
    expect(policyNamedByMessage(event, KNOWN)).toBe(policy);
  });

  it("the documented example's Message names no policy", () => {
    expect(policyNamedByMessage(parseTimerEvent(DOCUMENTED), KNOWN)).toBeUndefined();
  });
});
