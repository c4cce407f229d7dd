import { RunFailedError } from "../../shared/errors.ts";
import { parseAssetChangeDelivery } from "../../shared/events/asset-change-event.ts";
import { runAssetChange, type AssetChangeSummary } from "../../shared/run/asset-change.ts";
import { containerBoot, invocationDeps, type HandlerOptions } from "../../shared/run/container.ts";

/** Builds the SCF entry point of the asset-change triggers (EventBridge, CMQ topic, CKafka). */
export function assetChangeHandler(options: HandlerOptions = {}) {
  const boot = containerBoot(options.connect);

  /**
   * Validates the delivery (a malformed one is rejected with the path of the bad field, before any
   * call), scans the changed assets, returns the summary; throws when a scan failed, so SCF retries.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<AssetChangeSummary> {
    const events = parseAssetChangeDelivery(event);
    const { config, csip } = await boot();
    const summary = await runAssetChange(invocationDeps(config, csip, context, options), config, events);
    if (!summary.ok && options.throwOnFailure !== false) {
      const problems = [...summary.errors, ...summary.runs.flatMap((r) => r.errors)].map((e) => e.message);
      throw new RunFailedError(`asset change ${summary.eventIds.join(", ")} failed: ${problems.join("; ") || "a notification was not delivered"}`, summary);
    }
    return summary;
  };
}

export const main_handler = assetChangeHandler();
