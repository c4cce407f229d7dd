import { remainingFromContext } from "../../shared/clock.ts";
import { RunFailedError } from "../../shared/errors.ts";
import { parseAssetChangeDelivery } from "../../shared/events/delivery.ts";
import { runAssetChange, type AssetChangeSummary } from "../../shared/run/asset-change.ts";
import { servicesOnDemand, startRun } from "../../shared/run/services.ts";
import { deployedHandler } from "../heap-bound.ts";
import type { HandlerOptions } from "../options.ts";

/** Builds the SCF entry point of the asset-change triggers (EventBridge, CMQ topic, CKafka). */
export function assetChangeHandler(options: HandlerOptions = {}) {
  const services = servicesOnDemand(options);

  /**
   * Validates the delivery (a malformed one is rejected with the path of the bad field, before any
   * call), scans the changed assets, returns the summary; throws when a scan failed, so SCF retries.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<AssetChangeSummary> {
    const delivery = parseAssetChangeDelivery(event);
    const summary = await runAssetChange(startRun(await services(), remainingFromContext(context)), delivery);
    if (!summary.ok && summary.retry && options.throwOnFailure !== false) {
      const problems = [...summary.errors, ...summary.runs.flatMap((r) => r.errors)].map((e) => e.message);
      throw new RunFailedError(`asset change ${summary.eventIds.join(", ")} failed: ${problems.join("; ") || "a notification was not delivered"}`, summary);
    }
    return summary;
  };
}

export const main_handler = deployedHandler("asset-change", assetChangeHandler);
