import { isFireTime, latestFireTime, parseScfCron, type ScfCron } from "../config/scf-cron.ts";
import { everyCron, type Config, type Policy } from "../config/schema.ts";
import { policyNamedByMessage, type TimerEvent } from "../events/timer-event.ts";
import { timerName } from "../state/keys.ts";
import type { ActionReading } from "../csip/filter-readings.ts";
import { runReadings } from "./filter-readings.ts";
import { runScheduledScan } from "./scheduled-scan.ts";
import type { RunContext } from "./services.ts";
import { NOT_RETRIED_WARNING, retryAfterFailure, type RunSummary } from "./summary.ts";

/**
 * How long after a fire time SCF may still deliver its event: a timer invokes asynchronously, and SCF
 * retries a function error twice a minute apart and a system error for up to 6 hours
 * (https://cloud.tencent.com/document/product/583/39751). A `Time` older than this is not this slot's.
 */
export const SCF_RETRY_WINDOW_MS = 6 * 3_600_000 + 10 * 60_000;

/** How far back the latest fire time is looked for: a yearly schedule, and some. */
const LOOK_BACK_MS = 400 * 86_400_000;

/** What one timer invocation did: the policies its timer stands for, each run in the same slot. */
export interface TimerSummary {
  trigger: "timer";
  triggerName: string;
  /** The schedule the timer stands for (seven fields), when it stands for one. */
  schedule?: string;
  /** The scheduled time the runs used for their task names and records. */
  scheduledTime?: string;
  /** Where the scheduled time came from: the event's `Time`, or the latest fire time (and why). */
  slot?: { source: "Time" | "latest fire time"; reason?: string };
  policies: string[];
  runs: RunSummary[];
  /** How the account took each filter the runs sent (shared/run/filter-readings.ts); absent when nothing ran. */
  filterReadings?: ActionReading[];
  warnings: string[];
  ok: boolean;
  /** Whether SCF may retry it when it failed (shared/run/summary.ts `retrySafe`). */
  retry: boolean;
}

/** One timer trigger: its name, its schedule, and the policies it runs. */
export interface Timer {
  name: string;
  cron: ScfCron;
  policies: Policy[];
}

/** The timers of a policy file: one per distinct schedule (seven-field form), in the order policies name them. */
export function timersOf(config: Config): Timer[] {
  const timers = new Map<string, Timer>();
  for (const policy of config.policies) {
    const parsed = parseScfCron(policy.schedule);
    if (!parsed.ok) continue;
    const schedule = parsed.cron.normalized;
    const timer = timers.get(schedule) ?? { name: timerName(schedule), cron: parsed.cron, policies: [] };
    timer.policies.push(policy);
    timers.set(schedule, timer);
  }
  return [...timers.values()];
}

/** The scan-results timer: its schedule from `results.checkEvery`, named like the others. */
export function resultsTimer(config: Config): { name: string; cron: ScfCron } {
  const parsed = parseScfCron(everyCron(config.results.checkEvery)!);
  if (!parsed.ok) throw new Error(`results.checkEvery gives no cron: ${parsed.problems.join("; ")}`);
  return { name: timerName(parsed.cron.normalized), cron: parsed.cron };
}

/** The slot of a scan-results invocation: its `Time` when that is a fire time, else the latest fire time. */
export function resultsSlot(config: Config, time: string, now: Date): Date {
  return slotOf(resultsTimer(config).cron, time, now, config.timezone).at ?? now;
}

/** The policies a timer event stands for, and their schedule; undefined for a timer no policy has any more. */
export function policiesOfTimer(config: Config, timer: TimerEvent): { policies: Policy[]; cron: ScfCron } | undefined {
  // A console test event or a timer with a message, then a timer named after a policy (deployed before
  // timers were per schedule): that policy alone.
  const named = policyNamedByMessage(timer, config.policies.map((p) => p.name)) ?? timer.TriggerName;
  const single = config.policies.find((p) => p.name === named);
  const parsed = single && parseScfCron(single.schedule);
  if (single && parsed?.ok) return { policies: [single], cron: parsed.cron };
  // A timer per schedule: every policy on that schedule.
  return timersOf(config).find((t) => t.name === timer.TriggerName);
}

/**
 * The slot of a timer invocation: `Time` when it is a fire time of the schedule within SCF's retry
 * window (the first delivery, SCF's retries, a redelivery hours later all share it), else the latest
 * fire time at or before now, saying why.
 */
export function slotOf(cron: ScfCron, time: string, now: Date, timeZone: string): { at?: Date; source: "Time" | "latest fire time"; reason?: string } {
  const given = new Date(time);
  const age = now.getTime() - given.getTime();
  if (isFireTime(cron, given, timeZone) && age >= -60_000 && age <= SCF_RETRY_WINDOW_MS) return { at: given, source: "Time" };
  const reason = !isFireTime(cron, given, timeZone)
    ? `Time ${time} is not a fire time of "${cron.normalized}" (SCF may give the trigger's creation time)`
    : age < 0
      ? `Time ${time} is in the future`
      : `Time ${time} is older than SCF's retry window`;
  const latest = latestFireTime(cron, now, timeZone, LOOK_BACK_MS);
  return latest ? { at: latest, source: "latest fire time", reason } : { source: "latest fire time", reason: `${reason}, and "${cron.normalized}" has not fired in 400 days` };
}

/**
 * One timer invocation: the policies its timer stands for, in one slot, sharing one inventory walk and
 * one rate limiter; each keeps its own tasks, record and messages, and one failing does not stop the
 * others. A timer that stands for no schedule any more (left by an earlier deploy) is acknowledged
 * with a warning and runs nothing, so SCF does not retry it.
 */
export async function runTimer(run: RunContext, timer: TimerEvent): Promise<TimerSummary> {
  const base = { trigger: "timer" as const, triggerName: timer.TriggerName };
  const plan = policiesOfTimer(run.config, timer);
  if (!plan) {
    const warning = `timer "${timer.TriggerName}" stands for no schedule of the policy file (left by an earlier deploy?); acknowledged, nothing run`;
    run.logger.warn({ timer }, warning);
    return { ...base, policies: [], runs: [], warnings: [warning, ...run.storeWarnings], ok: true, retry: true };
  }
  const slot = slotOf(plan.cron, timer.Time, new Date(run.clock.now()), run.config.timezone);
  const policies = plan.policies.map((p) => p.name);
  const warnings = [...(slot.reason ? [`the slot is the latest fire time: ${slot.reason}`] : []), ...run.storeWarnings];
  if (!slot.at) return { ...base, schedule: plan.cron.normalized, slot, policies, runs: [], warnings, ok: true, retry: true };
  const scheduledTime = slot.at;
  const runs = await Promise.all(policies.map((policy) => runScheduledScan(run, { policy, scheduledTime, trigger: "timer" })));
  const readings = runReadings(run, warnings);
  warnings.push(...readings.warnings);
  const summary: TimerSummary = {
    ...base,
    schedule: plan.cron.normalized,
    scheduledTime: scheduledTime.toISOString(),
    slot: { source: slot.source, ...(slot.reason ? { reason: slot.reason } : {}) },
    policies,
    runs,
    filterReadings: readings.filterReadings,
    warnings,
    ok: runs.every((r) => r.ok),
    retry: await retryAfterFailure(run.store, runs),
  };
  if (!summary.ok && !summary.retry) summary.warnings.push(NOT_RETRIED_WARNING);
  return summary;
}
