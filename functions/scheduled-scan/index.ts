import { configPath, loadConfig } from "../../shared/config/load.ts";
import type { Config } from "../../shared/config/schema.ts";
import type { CsipClient } from "../../shared/csip/client.ts";
import type { Logger } from "../../shared/log.ts";
import type { Deliver } from "../../shared/notify/deliver.ts";
import type { StateStore } from "../../shared/state/store.ts";
import { RunFailedError } from "../../shared/errors.ts";
import { remainingFromContext } from "../../shared/run/deadline.ts";
import { runScheduledScan } from "../../shared/run/scheduled-scan.ts";
import { csipClientFor, runDeps } from "../../shared/run/runtime.ts";
import type { RunSummary } from "../../shared/run/summary.ts";
import { parseTimerEvent, policyNameOf } from "../../shared/run/timer-event.ts";

export interface HandlerOptions {
  /** The CSIP client for a config; by default from the environment (credentials, CSIP_ENDPOINT). */
  connect?: (config: Config) => CsipClient;
  deliver?: Deliver;
  logger?: Logger;
  store?: StateStore;
  /** False: return a failed summary instead of throwing (the CLI's `invoke` prints it). */
  throwOnFailure?: boolean;
}

/** Builds the SCF entry point. The deployed function uses the defaults; `csip-scan invoke` passes its own. */
export function scheduledScanHandler(options: HandlerOptions = {}) {
  // Config and client are built once per container and kept across warm invocations.
  const booted = new Map<string, Promise<{ config: Config; csip: CsipClient }>>();
  const boot = (): Promise<{ config: Config; csip: CsipClient }> => {
    const file = configPath(undefined);
    const key = `${file}|${process.env.CSIP_ENDPOINT ?? ""}`;
    let pending = booted.get(key);
    if (!pending) {
      pending = loadConfig(file).then(({ config }) => ({ config, csip: (options.connect ?? csipClientFor)(config) }));
      pending.catch(() => booted.delete(key));
      booted.set(key, pending);
    }
    return pending;
  };

  /**
   * Validates the timer event, runs the policy it names, returns the run summary. When something
   * failed it throws instead (after logging the summary), so that SCF's retry and dead-letter queue
   * apply; the retry redoes only what is missing.
   */
  return async function main_handler(event: unknown, context?: unknown): Promise<RunSummary> {
    const timer = parseTimerEvent(event);
    const { config, csip } = await boot();
    const policy = policyNameOf(timer, config.policies.map((p) => p.name));
    const deps = runDeps(config, csip, {
      remainingMs: remainingFromContext(context),
      ...(options.deliver ? { deliver: options.deliver } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.store ? { store: options.store } : {}),
    });
    const summary = await runScheduledScan(deps, config, { policy, scheduledTime: new Date(timer.Time), trigger: "timer" });
    if (!summary.ok && options.throwOnFailure !== false) {
      const problems = [...summary.errors.map((e) => e.message), ...summary.notifications.filter((n) => !n.delivered).map((n) => `notifier ${n.notifier}: ${n.error ?? "not delivered"}`)];
      throw new RunFailedError(`policy ${summary.policy} at ${summary.scheduledTime} failed: ${problems.join("; ")}`, summary);
    }
    return summary;
  };
}

export const main_handler = scheduledScanHandler();
