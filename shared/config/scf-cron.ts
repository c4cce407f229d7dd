/**
 * SCF timer cron, as SCF reads it (https://cloud.tencent.com/document/product/583/9708): seven fields,
 * `second minute hour day-of-month month day-of-week year`, or the legacy five, `minute hour
 * day-of-month month day-of-week` (read as second 0 and every year, as SCF stores them: the
 * CreateTrigger example turns `*\/2 * * * *` into `0 *\/2 * * * * *`). Day-of-week 0-6 or SUN-SAT
 * (0 is Sunday), year 1970-2099, `? L W` in day-of-month, `? L #` in day-of-week, `, - * /` elsewhere.
 * When both day-of-month and day-of-week are set, a day matching either fires (583/44892).
 */

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const FIELDS: readonly FieldRule[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day-of-week", min: 0, max: 6, names: WEEKDAYS },
  { name: "year", min: 1970, max: 2099 },
];

export type DayOfMonth =
  | { kind: "any" }
  | { kind: "unspecified" }
  | { kind: "days"; days: ReadonlySet<number> }
  | { kind: "last" }
  | { kind: "lastWeekday" }
  | { kind: "nearestWeekday"; day: number };

export type DayOfWeek =
  | { kind: "any" }
  | { kind: "unspecified" }
  | { kind: "weekdays"; weekdays: ReadonlySet<number> }
  | { kind: "lastOfMonth"; weekday: number }
  | { kind: "nth"; weekday: number; nth: number };

export interface ScfCron {
  /** The schedule as written. */
  expression: string;
  /** The same schedule in seven fields, spaces collapsed: how schedules are compared and timers named. */
  normalized: string;
  seconds: readonly number[];
  minutes: readonly number[];
  hours: readonly number[];
  dayOfMonth: DayOfMonth;
  months: ReadonlySet<number>;
  dayOfWeek: DayOfWeek;
  years: ReadonlySet<number>;
}

export type CronResult = { ok: true; cron: ScfCron } | { ok: false; problems: string[] };

/** Parses an SCF cron expression; on failure returns every problem found, one message per field. */
export function parseScfCron(expression: string): CronResult {
  const written = expression.trim().split(/\s+/);
  if (written.length !== 7 && written.length !== 5) {
    return {
      ok: false,
      problems: [
        `SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), or the legacy 5 (minute hour day-of-month month day-of-week), got ${written.length} in "${expression}"`,
      ],
    };
  }
  const parts = written.length === 5 ? ["0", ...written, "*"] : written;
  const problems: string[] = [];
  const field = (index: number): string => parts[index] ?? "";
  const plain = (index: number): number[] => {
    const rule = FIELDS[index]!;
    const result = parseList(field(index), rule);
    if (typeof result === "string") {
      problems.push(`${rule.name} "${field(index)}": ${result}`);
      return [];
    }
    return result;
  };
  const seconds = plain(0);
  const minutes = plain(1);
  const hours = plain(2);
  const dayOfMonth = parseDayOfMonth(field(3), problems);
  const months = plain(4);
  const dayOfWeek = parseDayOfWeek(field(5), problems);
  const years = plain(6);

  if (dayOfMonth.kind === "unspecified" && dayOfWeek.kind === "unspecified") {
    problems.push(`day-of-month and day-of-week are both "?": set one of them`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    cron: {
      expression,
      normalized: parts.join(" "),
      seconds,
      minutes,
      hours,
      dayOfMonth,
      months: new Set(months),
      dayOfWeek,
      years: new Set(years),
    },
  };
}

function parseNumber(text: string, rule: FieldRule): number | string {
  const upper = text.toUpperCase();
  const named = rule.names?.indexOf(upper) ?? -1;
  if (named >= 0) return rule.min + named;
  if (!/^\d+$/.test(text)) {
    const hint = rule.names ? ` or ${rule.names[0]}-${rule.names[rule.names.length - 1]}` : "";
    return `"${text}" is not a number${hint}`;
  }
  const value = Number(text);
  if (value < rule.min || value > rule.max) return `${value} is out of range ${rule.min}-${rule.max}`;
  return value;
}

/** `, - * /` syntax: a list of `*`, `N`, `A-B`, each optionally `/STEP`. */
function parseList(text: string, rule: FieldRule): number[] | string {
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") return "empty list item";
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined) return `"${item}" has more than one "/"`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) return `step "${stepText}" must be a positive integer`;
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = rule.min;
      to = rule.max;
    } else if (range !== undefined && range.includes("-")) {
      const [a, b, more] = range.split("-");
      if (more !== undefined || a === undefined || b === undefined) return `"${range}" is not a range`;
      const start = parseNumber(a, rule);
      const end = parseNumber(b, rule);
      if (typeof start === "string") return start;
      if (typeof end === "string") return end;
      if (start > end) return `range ${a}-${b} runs backwards`;
      from = start;
      to = end;
    } else {
      const start = parseNumber(range ?? "", rule);
      if (typeof start === "string") return start;
      from = start;
      to = stepText === undefined ? start : rule.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

const DOM_RULE = FIELDS[3]!;
const DOW_RULE = FIELDS[5]!;

function parseDayOfMonth(text: string, problems: string[]): DayOfMonth {
  const upper = text.toUpperCase();
  if (upper === "*") return { kind: "any" };
  if (upper === "?") return { kind: "unspecified" };
  if (upper === "L") return { kind: "last" };
  if (upper === "LW") return { kind: "lastWeekday" };
  const weekday = /^(\d+)W$/.exec(upper);
  if (weekday) {
    const day = parseNumber(weekday[1]!, DOM_RULE);
    if (typeof day === "string") problems.push(`day-of-month "${text}": ${day}`);
    return { kind: "nearestWeekday", day: typeof day === "number" ? day : 1 };
  }
  if (/[LW?#]/.test(upper)) {
    problems.push(`day-of-month "${text}": "?", "L", "LW" and "NW" must stand alone; "#" belongs in day-of-week`);
    return { kind: "any" };
  }
  const days = parseList(text, DOM_RULE);
  if (typeof days === "string") {
    problems.push(`day-of-month "${text}": ${days}`);
    return { kind: "any" };
  }
  return { kind: "days", days: new Set(days) };
}

function parseDayOfWeek(text: string, problems: string[]): DayOfWeek {
  const upper = text.toUpperCase();
  if (upper === "*") return { kind: "any" };
  if (upper === "?") return { kind: "unspecified" };
  const last = /^(\w+)L$/.exec(upper);
  const nth = /^(\w+)#(\d+)$/.exec(upper);
  if (last || nth) {
    const weekday = parseNumber((last ?? nth)![1]!, DOW_RULE);
    if (typeof weekday === "string") {
      problems.push(`day-of-week "${text}": ${weekday}`);
      return { kind: "any" };
    }
    if (last) return { kind: "lastOfMonth", weekday };
    const n = Number(nth![2]);
    if (n < 1 || n > 5) {
      problems.push(`day-of-week "${text}": the week after "#" must be 1-5`);
      return { kind: "any" };
    }
    return { kind: "nth", weekday, nth: n };
  }
  if (/[LW?#]/.test(upper.replace(/SUN|MON|TUE|WED|THU|FRI|SAT/g, ""))) {
    problems.push(`day-of-week "${text}": use "NL" (last weekday N of the month) or "N#K" (K-th weekday N), alone`);
    return { kind: "any" };
  }
  const weekdays = parseList(text, DOW_RULE);
  if (typeof weekdays === "string") {
    problems.push(`day-of-week "${text}": ${weekdays}`);
    return { kind: "any" };
  }
  return { kind: "weekdays", weekdays: new Set(weekdays) };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

const restricted = (rule: DayOfMonth | DayOfWeek): boolean => rule.kind !== "any" && rule.kind !== "unspecified";

/**
 * Whether the calendar date (as read in the schedule's time zone) matches the date fields. With both
 * day-of-month and day-of-week set, either may match (SCF, like classic cron, ORs them).
 */
export function matchesDate(cron: ScfCron, year: number, month: number, day: number): boolean {
  if (!cron.years.has(year) || !cron.months.has(month)) return false;
  const byMonthDay = matchesDayOfMonth(cron.dayOfMonth, year, month, day);
  const byWeekDay = matchesDayOfWeek(cron.dayOfWeek, year, month, day);
  return restricted(cron.dayOfMonth) && restricted(cron.dayOfWeek) ? byMonthDay || byWeekDay : byMonthDay && byWeekDay;
}

function matchesDayOfMonth(rule: DayOfMonth, year: number, month: number, day: number): boolean {
  const last = daysInMonth(year, month);
  switch (rule.kind) {
    case "any":
    case "unspecified":
      return true;
    case "days":
      return rule.days.has(day);
    case "last":
      return day === last;
    case "lastWeekday":
      return day === nearestWeekday(year, month, last);
    case "nearestWeekday":
      return day === nearestWeekday(year, month, Math.min(rule.day, last));
  }
}

/** The weekday (Mon-Fri) nearest to `day`, never leaving the month (Quartz `W` rule). */
function nearestWeekday(year: number, month: number, day: number): number {
  const weekday = weekdayOf(year, month, day);
  const last = daysInMonth(year, month);
  if (weekday === 6) return day === 1 ? 3 : day - 1;
  if (weekday === 0) return day === last ? day - 2 : day + 1;
  return day;
}

function matchesDayOfWeek(rule: DayOfWeek, year: number, month: number, day: number): boolean {
  const weekday = weekdayOf(year, month, day);
  switch (rule.kind) {
    case "any":
    case "unspecified":
      return true;
    case "weekdays":
      return rule.weekdays.has(weekday);
    case "lastOfMonth":
      return weekday === rule.weekday && day + 7 > daysInMonth(year, month);
    case "nth":
      return weekday === rule.weekday && Math.ceil(day / 7) === rule.nth;
  }
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of an instant in a time zone. */
export function wallTime(instant: Date, timeZone: string): WallTime {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(instant)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function wallToUtc(t: WallTime): number {
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
}

/** The instant at which the zone's clock shows `t`, or undefined inside a daylight-saving gap. */
function zonedInstant(t: WallTime, timeZone: string): Date | undefined {
  const naive = wallToUtc(t);
  let guess = naive - (wallToUtc(wallTime(new Date(naive), timeZone)) - naive);
  const offset = wallToUtc(wallTime(new Date(guess), timeZone)) - guess;
  guess = naive - offset;
  return wallToUtc(wallTime(new Date(guess), timeZone)) === naive ? new Date(guess) : undefined;
}

/** Whether `timeZone` is an IANA zone name the runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The next `count` fire times strictly after `after`, reading the schedule in `timeZone`. */
export function nextFireTimes(cron: ScfCron, after: Date, count: number, timeZone: string): Date[] {
  const result: Date[] = [];
  const start = wallTime(after, timeZone);
  const lastYear = Math.max(...cron.years, 0);
  for (let offset = 0; result.length < count; offset++) {
    const date = new Date(Date.UTC(start.year, start.month - 1, start.day + offset));
    const year = date.getUTCFullYear();
    if (year > lastYear) break;
    const month = date.getUTCMonth() + 1;
    const day = date.getUTCDate();
    if (!matchesDate(cron, year, month, day)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        for (const second of cron.seconds) {
          const instant = zonedInstant({ year, month, day, hour, minute, second }, timeZone);
          if (instant && instant > after) {
            result.push(instant);
            if (result.length === count) return result;
          }
        }
      }
    }
  }
  return result;
}

/**
 * The 6-field expression node-cron 4 takes. node-cron knows no year and no `? L W #`, and has rules
 * of its own for both day fields, so the day fields become `*` and `matchesDate` is checked when the
 * job fires.
 */
export function toNodeCron(cron: ScfCron): string {
  const [second, minute, hour, , month] = cron.normalized.split(" ");
  return [second, minute, hour, "*", month, "*"].join(" ");
}

/**
 * The latest fire time of the schedule at or before `at`, within `lookBackMs`, or undefined when it
 * did not fire in that time. Walks back day by day (each day's times from the cron's fields).
 */
export function latestFireTime(cron: ScfCron, at: Date, timeZone: string, lookBackMs: number): Date | undefined {
  const start = wallTime(at, timeZone);
  const earliest = at.getTime() - lookBackMs;
  for (let offset = 0; ; offset--) {
    const date = new Date(Date.UTC(start.year, start.month - 1, start.day + offset));
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + 1;
    const day = date.getUTCDate();
    // A whole day before the window: nothing later can be found.
    if (Date.UTC(year, month - 1, day) + 2 * 86_400_000 < earliest) return undefined;
    if (!matchesDate(cron, year, month, day)) continue;
    for (const hour of [...cron.hours].reverse()) {
      for (const minute of [...cron.minutes].reverse()) {
        for (const second of [...cron.seconds].reverse()) {
          const instant = zonedInstant({ year, month, day, hour, minute, second }, timeZone);
          if (instant && instant <= at) return instant.getTime() >= earliest ? instant : undefined;
        }
      }
    }
  }
}

/** Whether `instant` is a fire time of the schedule, to the second. */
export function isFireTime(cron: ScfCron, instant: Date, timeZone: string): boolean {
  if (instant.getUTCMilliseconds() !== 0) return false;
  return latestFireTime(cron, instant, timeZone, 0)?.getTime() === instant.getTime();
}
