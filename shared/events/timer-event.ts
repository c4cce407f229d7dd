import * as z from "zod";
import { EventError } from "../errors.ts";

/**
 * The event SCF passes to a timer-triggered function
 * (https://cloud.tencent.com/document/product/583/9708): Type, TriggerName, Time, Message. The
 * document writes `"Type":"Timer"`, the plugin's docs `"timer"`: any case is accepted. What `Time` holds
 * is unclear (the field table says the trigger's creation time, examples show fire times): the slot of a
 * run does not trust it blindly (shared/run/timer-run.ts).
 */
export const TimerEventSchema = z.object({
  Type: z.string().refine((type) => type.toLowerCase() === "timer", { message: 'must be "Timer"' }),
  TriggerName: z.string().min(1),
  Time: z.iso.datetime({ offset: true }),
  Message: z.string().optional(),
});
export type TimerEvent = z.infer<typeof TimerEventSchema>;

/** Validates a timer event; throws EventError with the path of the first bad field. */
export function parseTimerEvent(event: unknown): TimerEvent {
  const parsed = TimerEventSchema.safeParse(event, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  const message =
    issue.code === "invalid_type" && issue.path.length > 0 && issue.input === undefined
      ? "is required"
      : issue.code === "invalid_format"
        ? "must be an ISO 8601 time such as 2026-11-29T03:00:00Z"
        : issue.message;
  throw new EventError(path, message);
}

/**
 * The policy a timer event names by `Message` (a console test event, a timer given a message), or
 * undefined. The plugin cannot set a timer's message, so deployed timers are named instead.
 */
export function policyNamedByMessage(event: TimerEvent, known: readonly string[]): string | undefined {
  const message = event.Message?.trim();
  return message && known.includes(message) ? message : undefined;
}
