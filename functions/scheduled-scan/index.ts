import { remainingFromContext } from "../../shared/clock.ts";
import { RunFailedError } from "../../shared/errors.ts";
import { parseTimerEvent, policyNameOf } from "../../shared/events/timer-event.ts";
import { runScheduledScan } from "../../shared/run/scheduled-scan.ts";
import { servicesOnDemand, startRun } from "../../shared/run/services.ts";
import type { RunSummary } from "../../shared/run/summary.ts";
import type { HandlerOptions } from "../options.ts";

/** Builds the SCF entry point. The deployed function uses the defaults; `csip-scan invoke` passes its own. */
export function scheduledScanHandler(options: HandlerOptions = {}) {
  const services = servicesOnDemand(options);

  /**
   * Validates the timer event, runs the policy it names, returns the run summary. When something
   * failed it throws instead (after logging the summary), so that SCF's retry and dead-letter queue
   * apply; the retry redoes only what is missing.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<RunSummary> {
    const timer = parseTimerEvent(event);
    const ready = await services();
    const policy = policyNameOf(timer, ready.config.policies.map((p) => p.name));
    const summary = await runScheduledScan(startRun(ready, remainingFromContext(context)), { policy, scheduledTime: new Date(timer.Time), trigger: "timer" });
    if (!summary.ok && options.throwOnFailure !== false) {
      const problems = [...summary.errors.map((e) => e.message), ...summary.notifications.filter((n) => !n.delivered).map((n) => `notifier ${n.notifier}: ${n.error ?? "not delivered"}`)];
      throw new RunFailedError(`policy ${summary.policy} at ${summary.scheduledTime} failed: ${problems.join("; ")}`, summary);
    }
    return summary;
  };
}

export type { HandlerOptions };

export const main_handler = scheduledScanHandler();
