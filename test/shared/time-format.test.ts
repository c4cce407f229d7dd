import { describe, expect, it } from "vitest";
import { localTime } from "../../shared/time-format.ts";

describe("localTime", () => {
  it.each([
    ["2026-11-29T16:30:00Z", "Asia/Shanghai", "2026-11-30 00:30 (Asia/Shanghai)"],
    ["2026-11-29T16:00:00Z", "Asia/Shanghai", "2026-11-30 00:00 (Asia/Shanghai)"],
    ["2026-11-30T00:00:00Z", "UTC", "2026-11-30 00:00 (UTC)"],
    ["2026-11-29T23:59:59Z", "UTC", "2026-11-29 23:59:59 (UTC)"],
    ["2026-11-29T19:00:00Z", "Asia/Shanghai", "2026-11-30 03:00 (Asia/Shanghai)"],
    ["2026-07-01T04:30:00Z", "America/New_York", "2026-07-01 00:30 (America/New_York)"],
  ])("%s in %s reads %s: midnight is 00, never 24", (instant, zone, expected) => {
    expect(localTime(instant, zone)).toBe(expected);
  });

  it("gives a text that is not a time back as it is", () => {
    expect(localTime("not a time", "UTC")).toBe("not a time");
  });
});
