/**
 * Times as people read them: one form everywhere a person reads (chat messages, CLI output, plan,
 * results, the text of summaries), in the policy file's `timezone`, e.g. `2026-12-05 04:30 (Asia/Shanghai)`.
 * Machines read ISO 8601 UTC: JSON keeps it and adds this form beside it; log lines carry ISO time.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    formatters.set(timeZone, format);
  }
  return format;
}

/**
 * An instant as a person reads it in `timeZone`: `2026-12-05 04:30 (Asia/Shanghai)`, with seconds
 * only when they are not zero (SCF's cron fires on whole minutes, a manual run may not). An ISO text
 * that is not a time is returned as it is.
 */
export function localTime(instant: Date | string | number, timeZone: string): string {
  const date = instant instanceof Date ? instant : new Date(instant);
  if (Number.isNaN(date.getTime())) return String(instant);
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(date)) parts[part.type] = part.value;
  const seconds = parts.second && parts.second !== "00" ? `:${parts.second}` : "";
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds} (${timeZone})`;
}
