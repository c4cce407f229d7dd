import { describe, expect, it } from "vitest";
import { isFireTime, latestFireTime, matchesDate, nextFireTimes, parseScfCron, toNodeCron, type ScfCron } from "../../../shared/config/scf-cron.ts";

function parsed(expression: string): ScfCron {
  const result = parseScfCron(expression);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.cron;
}

const next = (expression: string, after: string, count = 3, zone = "Asia/Shanghai"): string[] =>
  nextFireTimes(parsed(expression), new Date(after), count, zone).map((d) => d.toISOString());

describe("parseScfCron", () => {
  it.each([
    "0 0 3 * * * *",
    "*/5 * * * * * *",
    "0 30 4 ? * SAT *",
    "0 0 2 ? * 0L *",
    "0 0 9 ? * MON#1 *",
    "0 0 9 L * ? *",
    "0 0 9 LW * ? *",
    "0 0 9 15W * ? *",
    "0 0 12 1,15 JAN-MAR ? 2026-2030",
    "0 1/10 * * * * *",
    "59 59 23 31 12 ? 2099",
    // The legacy five fields, and both day fields set (SCF ORs them).
    "0 3 * * *",
    "*/2 * * * *",
    "0 0 3 1 * MON *",
  ])("accepts %s", (expression) => {
    expect(parseScfCron(expression).ok).toBe(true);
  });

  it.each([
    ["0 0 3 * * *", 'SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), or the legacy 5 (minute hour day-of-month month day-of-week), got 6 in "0 0 3 * * *"'],
    ["0 3 * *", 'SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), or the legacy 5 (minute hour day-of-month month day-of-week), got 4 in "0 3 * *"'],
    ["60 3 * * *", 'minute "60": 60 is out of range 0-59'],
    ["60 0 3 * * * *", 'second "60": 60 is out of range 0-59'],
    ["0 60 3 * * * *", 'minute "60": 60 is out of range 0-59'],
    ["0 0 24 * * * *", 'hour "24": 24 is out of range 0-23'],
    ["0 0 3 32 * ? *", 'day-of-month "32": 32 is out of range 1-31'],
    ["0 0 3 0 * ? *", 'day-of-month "0": 0 is out of range 1-31'],
    ["0 0 3 * 13 * *", 'month "13": 13 is out of range 1-12'],
    ["0 0 3 * FOO * *", 'month "FOO": "FOO" is not a number or JAN-DEC'],
    ["0 0 3 ? * 7 *", 'day-of-week "7": 7 is out of range 0-6'],
    ["0 0 3 * * * 1969", 'year "1969": 1969 is out of range 1970-2099'],
    ["0 0 3 * * * 2100", 'year "2100": 2100 is out of range 1970-2099'],
    ["0 0 3 ? * ? *", 'day-of-month and day-of-week are both "?": set one of them'],
    ["0 */0 3 * * * *", 'minute "*/0": step "0" must be a positive integer'],
    ["0 30-10 3 * * * *", "minute \"30-10\": range 30-10 runs backwards"],
    ["0 0 ? * * * *", 'hour "?": "?" is not a number'],
    ["0 0 3 1#2 * ? *", 'day-of-month "1#2": "?", "L", "LW" and "NW" must stand alone; "#" belongs in day-of-week'],
    ["0 0 3 ? * 1#6 *", 'day-of-week "1#6": the week after "#" must be 1-5'],
    ["0 0 3 ? * L *", 'day-of-week "L": use "NL" (last weekday N of the month) or "N#K" (K-th weekday N), alone'],
    ["0 0 3 ? * 1,2W *", 'day-of-week "1,2W": use "NL" (last weekday N of the month) or "N#K" (K-th weekday N), alone'],
    ["0 0 3 1,,2 * ? *", 'day-of-month "1,,2": empty list item'],
  ])("rejects %s", (expression, message) => {
    const result = parseScfCron(expression);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toContain(message);
  });

  it("reports every bad field of one expression", () => {
    const result = parseScfCron("61 61 25 * * * *");
    expect(result.ok ? [] : result.problems).toHaveLength(3);
  });
});

describe("nextFireTimes", () => {
  it("reads the schedule in the config's time zone", () => {
    // 03:00 in Shanghai is 19:00 UTC the day before.
    expect(next("0 0 3 * * * *", "2026-11-29T10:00:00Z")).toEqual([
      "2026-11-29T19:00:00.000Z",
      "2026-11-30T19:00:00.000Z",
      "2026-12-01T19:00:00.000Z",
    ]);
    expect(next("0 0 3 * * * *", "2026-11-29T10:00:00Z", 1, "UTC")).toEqual(["2026-11-30T03:00:00.000Z"]);
  });

  it.each([
    ["weekday names", "0 30 4 ? * SAT *", ["2026-12-04T20:30:00.000Z", "2026-12-11T20:30:00.000Z", "2026-12-18T20:30:00.000Z"]],
    ["last Sunday of the month", "0 0 2 ? * 0L *", ["2026-12-26T18:00:00.000Z", "2027-01-30T18:00:00.000Z", "2027-02-27T18:00:00.000Z"]],
    ["first Monday", "0 0 9 ? * MON#1 *", ["2026-12-07T01:00:00.000Z", "2027-01-04T01:00:00.000Z", "2027-02-01T01:00:00.000Z"]],
    ["last day of the month", "0 0 9 L * ? *", ["2026-11-30T01:00:00.000Z", "2026-12-31T01:00:00.000Z", "2027-01-31T01:00:00.000Z"]],
    // 2027-01-31 is a Sunday: the last weekday of January is Friday the 29th.
    ["last weekday of the month", "0 0 9 LW * ? *", ["2026-11-30T01:00:00.000Z", "2026-12-31T01:00:00.000Z", "2027-01-29T01:00:00.000Z"]],
    // 2026-12-05 is a Saturday: the nearest weekday is Friday the 4th; 2027-01-05 and 2027-02-05 are weekdays.
    ["nearest weekday", "0 0 9 5W * ? *", ["2026-12-04T01:00:00.000Z", "2027-01-05T01:00:00.000Z", "2027-02-05T01:00:00.000Z"]],
    ["steps", "0 15 */6 * * * *", ["2026-11-29T10:15:00.000Z", "2026-11-29T16:15:00.000Z", "2026-11-29T22:15:00.000Z"]],
  ])("%s", (_, expression, expected) => {
    expect(next(expression, "2026-11-29T10:00:00Z")).toEqual(expected);
  });

  it("stops at the last year the schedule allows", () => {
    expect(next("0 0 0 1 1 ? 2027", "2026-11-29T00:00:00Z", 3, "UTC")).toEqual(["2027-01-01T00:00:00.000Z"]);
  });

  it("skips a wall time that a daylight-saving change removes", () => {
    // 2027-03-14 02:30 does not exist in New York.
    const times = next("0 30 2 * * * *", "2027-03-13T12:00:00Z", 2, "America/New_York");
    expect(times).toEqual(["2027-03-15T06:30:00.000Z", "2027-03-16T06:30:00.000Z"]);
  });
});

describe("the legacy five fields", () => {
  it("read as second 0 and every year, as SCF stores them", () => {
    expect(parsed("*/2 * * * *").normalized).toBe("0 */2 * * * * *");
    expect(parsed("  30   4 ? * SAT ").normalized).toBe("0 30 4 ? * SAT *");
    expect(next("30 4 * * *", "2026-11-29T00:00:00Z", 2)).toEqual(next("0 30 4 * * * *", "2026-11-29T00:00:00Z", 2));
  });
});

describe("day-of-month and day-of-week both set", () => {
  it("fires on a day matching either, as SCF reads it", () => {
    // The 1st of the month, and every Monday: December 2026 starts on a Tuesday.
    expect(next("0 0 3 1 * MON *", "2026-11-30T00:00:00Z", 4, "UTC")).toEqual([
      "2026-11-30T03:00:00.000Z",
      "2026-12-01T03:00:00.000Z",
      "2026-12-07T03:00:00.000Z",
      "2026-12-14T03:00:00.000Z",
    ]);
  });

  it("with one of them * or ?, both must match (the other is every day)", () => {
    expect(next("0 0 3 * * MON *", "2026-11-30T04:00:00Z", 2, "UTC")).toEqual(["2026-12-07T03:00:00.000Z", "2026-12-14T03:00:00.000Z"]);
  });
});

describe("latestFireTime and isFireTime", () => {
  it("the latest fire time at or before an instant, within a window", () => {
    const nightly = parsed("0 0 3 * * * *");
    expect(latestFireTime(nightly, new Date("2026-11-29T10:00:00Z"), "UTC", 86_400_000)?.toISOString()).toBe("2026-11-29T03:00:00.000Z");
    expect(latestFireTime(nightly, new Date("2026-11-29T03:00:00Z"), "UTC", 0)?.toISOString()).toBe("2026-11-29T03:00:00.000Z");
    expect(latestFireTime(nightly, new Date("2026-11-29T02:59:59Z"), "UTC", 86_400_000)?.toISOString()).toBe("2026-11-28T03:00:00.000Z");
    expect(latestFireTime(nightly, new Date("2026-11-29T10:00:00Z"), "UTC", 3_600_000)).toBeUndefined();
    // Read in the config's time zone: 03:00 in Shanghai is 19:00 UTC the day before.
    expect(latestFireTime(nightly, new Date("2026-11-29T10:00:00Z"), "Asia/Shanghai", 86_400_000)?.toISOString()).toBe("2026-11-28T19:00:00.000Z");
  });

  it.each([
    ["0 0 3 * * * *", "2026-11-29T03:00:00Z", true],
    ["0 0 3 * * * *", "2026-11-29T03:00:01Z", false],
    ["0 0 3 * * * *", "2026-11-29T03:00:00.500Z", false],
    ["0 30 4 ? * SAT *", "2026-11-28T04:30:00Z", true],
    ["0 30 4 ? * SAT *", "2026-11-29T04:30:00Z", false],
    ["0 0 2 ? * 0L *", "2026-11-29T02:00:00Z", true],
  ])("%s fires at %s: %s", (expression, instant, fires) => {
    expect(isFireTime(parsed(expression), new Date(instant), "UTC")).toBe(fires);
  });
});

describe("toNodeCron", () => {
  it.each([
    ["0 0 3 * * * *", "0 0 3 * * *"],
    ["0 30 4 ? * SAT *", "0 30 4 * * *"],
    ["0 0 2 ? * 0L *", "0 0 2 * * *"],
    ["0 0 9 15W * ? 2027", "0 0 9 * * *"],
    ["15 4 * * *", "0 15 4 * * *"],
  ])("%s becomes %s, the days checked at fire time", (scf, nodeCron) => {
    expect(toNodeCron(parsed(scf))).toBe(nodeCron);
  });

  it("leaves the year and special days to matchesDate", () => {
    const cron = parsed("0 0 2 ? * 0L 2027");
    expect(matchesDate(cron, 2027, 1, 31)).toBe(true);
    expect(matchesDate(cron, 2027, 1, 24)).toBe(false);
    expect(matchesDate(cron, 2026, 12, 27)).toBe(false);
  });
});
