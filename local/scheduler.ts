import cron, { type ScheduledTask } from "node-cron";
import { matchesDate, nextFireTimes, parseScfCron, toNodeCron, wallTime } from "../shared/config/scf-cron.ts";
import type { Config } from "../shared/config/schema.ts";

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Fires each policy on its SCF schedule with node-cron, read in the config's time zone. node-cron
 * has no year and no `? L W #`; those are checked here when a job fires. A policy never runs twice at once.
 */
export function startScheduler(config: Config, fire: (policy: string, scheduledTime: Date) => Promise<void>): Scheduler {
  const tasks: ScheduledTask[] = [];
  const running = new Map<string, Promise<void>>();
  for (const policy of config.policies) {
    const parsed = parseScfCron(policy.schedule);
    if (!parsed.ok) continue;
    const task = cron.schedule(
      toNodeCron(parsed.cron),
      async (context) => {
        const scheduled = new Date(Math.floor(context.date.getTime() / 1000) * 1000);
        const wall = wallTime(scheduled, config.timezone);
        if (!matchesDate(parsed.cron, wall.year, wall.month, wall.day) || running.has(policy.name)) return;
        const run = fire(policy.name, scheduled).finally(() => running.delete(policy.name));
        running.set(policy.name, run);
        await run;
      },
      // No noOverlap: `running` is the one guard (stop() waits on it), and node-cron's own would warn on stderr.
      { name: policy.name, timezone: config.timezone },
    );
    tasks.push(task);
  }
  return {
    /** Stops firing, and waits for the runs in progress to finish. */
    async stop() {
      await Promise.all(tasks.map((t) => t.destroy()));
      await Promise.allSettled(running.values());
    },
  };
}

/** Policy, schedule and next fire times, for the table printed at start and by `plan`. */
export function scheduleTable(config: Config, now: Date, count = 3): { policy: string; schedule: string; next: Date[] }[] {
  return config.policies.map((policy) => {
    const parsed = parseScfCron(policy.schedule);
    return {
      policy: policy.name,
      schedule: policy.schedule,
      next: parsed.ok ? nextFireTimes(parsed.cron, now, count, config.timezone) : [],
    };
  });
}
