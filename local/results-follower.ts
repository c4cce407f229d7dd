import { runScanResults, type ScanResultsSummary } from "../shared/run/scan-results.ts";
import { startRun, withAccountReadings, type Services } from "../shared/run/services.ts";

export interface Follower {
  /** Stops looking, and waits for a look in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Local mode's scan-results timer: looks at the open tasks every `everyMs` (never two looks at once)
 * and hands each look's summary on. With the emulator it looks every few seconds, so the results of the
 * first runs show within a minute; with real credentials every `results.checkEvery`.
 */
export function followResults(services: Services, everyMs: number, told: (summary: ScanResultsSummary) => void): Follower {
  let running: Promise<void> | undefined;
  const look = (): void => {
    if (running) return;
    running = withAccountReadings(services)
      .then((following) => runScanResults(startRun(following), new Date(services.clock.now())))
      .then(told, () => {})
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(look, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
