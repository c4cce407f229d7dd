import { describeReading, filterReadingsOf, readingWarnings, type ActionReading } from "../csip/filter-readings.ts";
import type { RunContext } from "./services.ts";

/** What a run's summary says of the filter readings its account showed. */
export interface RunReadings {
  /** One row per action read with a filter: how it took several values, each filter name, the task list's order. */
  filterReadings: ActionReading[];
  /** One per action read otherwise than first assumed, saying what was done instead (none the summary already has). */
  warnings: string[];
}

/**
 * The filter readings this run's client saw (shared/csip/filter-readings.ts), logged once per
 * invocation, one line per action, for the summary and for whoever settles the readings of an account.
 */
export function runReadings(run: Pick<RunContext, "csip" | "logger">, already: readonly string[] = []): RunReadings {
  const filterReadings = filterReadingsOf(run.csip).rows();
  if (filterReadings.length > 0) run.logger.info({ filterReadings }, `filter readings: ${filterReadings.map(describeReading).join(" | ")}`);
  return { filterReadings, warnings: readingWarnings(filterReadings).filter((w) => !already.includes(w)) };
}
