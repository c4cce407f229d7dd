import { remainingFromContext } from "../../shared/clock.ts";
import { RunFailedError } from "../../shared/errors.ts";
import { parseTimerEvent } from "../../shared/events/timer-event.ts";
import { runScanResults, type ScanResultsSummary } from "../../shared/run/scan-results.ts";
import { servicesOnDemand, startRun } from "../../shared/run/services.ts";
import { resultsSlot } from "../../shared/run/timer-run.ts";
import { deployedHandler } from "../heap-bound.ts";
import type { HandlerOptions } from "../options.ts";

/** Builds the SCF entry point of the scan-results timer (`results.checkEvery`). */
export function scanResultsHandler(options: HandlerOptions = {}) {
  const services = servicesOnDemand(options);

  /**
   * Validates the timer event, follows the open tasks, tells each finished run's results once, returns
   * the summary; throws when something failed and a retry is safe (`summary.retry`), so SCF retries.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<ScanResultsSummary> {
    const timer = parseTimerEvent(event);
    const run = startRun(await services(), remainingFromContext(context));
    const summary = await runScanResults(run, resultsSlot(run.config, timer.Time, new Date(run.clock.now())));
    if (!summary.ok && summary.retry && options.throwOnFailure !== false) {
      const problems = [
        ...summary.errors.map((e) => e.message),
        ...summary.told.flatMap((t) => t.notifications.filter((n) => !n.delivered).map((n) => `${t.run}: notifier ${n.notifier}: ${n.error ?? "not delivered"}`)),
      ];
      throw new RunFailedError(`scan results at ${summary.scheduledTime} failed: ${problems.join("; ")}`, summary);
    }
    return summary;
  };
}

export const main_handler = deployedHandler("scan-results", scanResultsHandler);
