import { remainingFromContext } from "../../shared/clock.ts";
import { RunFailedError } from "../../shared/errors.ts";
import { parseTimerEvent } from "../../shared/events/timer-event.ts";
import { servicesOnDemand, startRun } from "../../shared/run/services.ts";
import { runTimer, type TimerSummary } from "../../shared/run/timer-run.ts";
import { deployedHandler } from "../heap-bound.ts";
import type { HandlerOptions } from "../options.ts";

/** Builds the SCF entry point. The deployed function uses the defaults; `csip-scan invoke` passes its own. */
export function scheduledScanHandler(options: HandlerOptions = {}) {
  const services = servicesOnDemand(options);

  /**
   * Validates the timer event, runs the policies its timer stands for, returns the summary. When
   * something failed it throws instead (after logging the summaries), so that SCF's retry and
   * dead-letter queue apply; the retry redoes only what is missing.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<TimerSummary> {
    const timer = parseTimerEvent(event);
    const summary = await runTimer(startRun(await services(), remainingFromContext(context)), timer);
    if (!summary.ok && summary.retry && options.throwOnFailure !== false) {
      const problems = summary.runs
        .filter((r) => !r.ok)
        .flatMap((r) => [
          ...r.errors.map((e) => `policy ${r.policy}: ${e.message}`),
          ...r.notifications.filter((n) => !n.delivered).map((n) => `policy ${r.policy}: notifier ${n.notifier}: ${n.error ?? "not delivered"}`),
        ]);
      throw new RunFailedError(`timer ${summary.triggerName} at ${summary.scheduledTime ?? "?"} failed: ${problems.join("; ")}`, summary);
    }
    return summary;
  };
}

export type { HandlerOptions };

export const main_handler = deployedHandler("scheduled-scan", scheduledScanHandler);
