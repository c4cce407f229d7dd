import { afterEach, describe, expect, it, vi } from "vitest";
import { sleep } from "../../shared/clock.ts";
import { parseConfig } from "../../shared/config/load.ts";
import type { Config } from "../../shared/config/schema.ts";
import { wallTime } from "../../shared/config/scf-cron.ts";
import { readEnvironment } from "../../shared/env.ts";
import { startScheduler, type Scheduler } from "../../local/scheduler.ts";

// The scheduler with the real node-cron and real time. Schedules here fire every second, and a run is a
// promise the test settles by hand, so a run stays in progress for as long as a test needs. The tests wait
// for events (a run started, another policy fired twice), never assert how long anything took.

const EVERY_SECOND = "* * * * * * *";
/** Long enough for several firings; a condition not met by then is a failure, not a slow machine. */
const WAIT = { timeout: 4_000, interval: 20 };

function configOf(schedules: Record<string, string>, timezone = "UTC"): Config {
  const policies = Object.entries(schedules).map(
    ([name, schedule]) => `  - { name: ${name}, schedule: "${schedule}", urls: [a.example.com], scanItems: [port] }`,
  );
  return parseConfig(`version: 1\ntimezone: ${timezone}\npolicies:\n${policies.join("\n")}\n`, "x.yaml", readEnvironment({}));
}

interface PolicyRuns {
  started: number;
  finished: number;
  inProgress: number;
  mostAtOnce: number;
}

/** A `fire` that counts each policy's runs; the runs of `held` policies stay in progress until `release()`. */
function recordRuns(held: string[] = []) {
  const runs = new Map<string, PolicyRuns>();
  const holding = new Set(held);
  const waiting: (() => void)[] = [];
  const of = (policy: string): PolicyRuns => {
    let counts = runs.get(policy);
    if (!counts) runs.set(policy, (counts = { started: 0, finished: 0, inProgress: 0, mostAtOnce: 0 }));
    return counts;
  };
  return {
    of,
    async fire(policy: string): Promise<void> {
      const counts = of(policy);
      counts.started++;
      counts.inProgress++;
      counts.mostAtOnce = Math.max(counts.mostAtOnce, counts.inProgress);
      if (holding.has(policy)) await new Promise<void>((resolve) => waiting.push(resolve));
      counts.inProgress--;
      counts.finished++;
    },
    /** Waits until `condition` holds; fails naming `what`, with the counts so far. */
    async until(what: string, condition: () => boolean): Promise<void> {
      await vi.waitUntil(condition, WAIT).catch(() => {
        throw new Error(`timed out waiting until ${what}; runs so far: ${JSON.stringify(Object.fromEntries(runs))}`);
      });
    },
    /** Lets the held runs finish; later runs finish at once. */
    release(): void {
      holding.clear();
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

let runs: ReturnType<typeof recordRuns> | undefined;
let scheduler: Scheduler | undefined;
afterEach(async () => {
  runs?.release();
  await scheduler?.stop();
  runs = scheduler = undefined;
});

describe("startScheduler", () => {
  it("starts no second run of a policy while one is in progress, and does not hold up other policies", async () => {
    const recorded = (runs = recordRuns(["slow"]));
    scheduler = startScheduler(configOf({ slow: EVERY_SECOND, quick: EVERY_SECOND }), (policy) => recorded.fire(policy));
    await recorded.until("slow starts a run", () => recorded.of("slow").started === 1);
    const quickBefore = recorded.of("quick").started;

    // Both fire every second, so each later run of quick is a firing of slow while its first run is held.
    await recorded.until("quick runs twice more", () => recorded.of("quick").started >= quickBefore + 2);
    const slowFirings = recorded.of("quick").started - quickBefore;
    const skipped = slowFirings - (recorded.of("slow").started - 1);
    expect(recorded.of("slow")).toMatchObject({ started: 1, finished: 0 });
    expect(skipped).toBeGreaterThan(0);

    // Once its run has finished, the policy's next firing runs again, still one at a time.
    recorded.release();
    await recorded.until("slow finishes a second run", () => recorded.of("slow").finished >= 2);
    expect(recorded.of("slow").mostAtOnce).toBe(1);
    expect(recorded.of("quick").mostAtOnce).toBe(1);
  });

  it("stop() resolves only after the run in progress has finished, and no run starts after it", async () => {
    const recorded = (runs = recordRuns(["slow"]));
    const scheduled = (scheduler = startScheduler(configOf({ slow: EVERY_SECOND }), (policy) => recorded.fire(policy)));
    await recorded.until("slow starts a run", () => recorded.of("slow").started === 1);

    let stopped = false;
    const finishedWhenStopped = scheduled.stop().then(() => {
      stopped = true;
      return recorded.of("slow").finished;
    });
    await sleep(100);
    expect(stopped).toBe(false);
    recorded.release();
    expect(await finishedWhenStopped).toBe(1);

    // A firing a second later would have started a run by now.
    await sleep(1_500);
    expect(recorded.of("slow")).toMatchObject({ started: 1, finished: 1 });
  });

  // node-cron knows no year and no `? L W #`: the scheduler checks them when a job fires, reading the date
  // in the config's zone. Two zones far from UTC, so that at any hour one of them is on another date than UTC.
  it.each(["Pacific/Kiritimati", "Pacific/Pago_Pago"])("fires by the year and `? L W #` fields as read in %s", async (timezone) => {
    const today = wallTime(new Date(), timezone);
    const weekday = new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay();
    const nth = Math.ceil(today.day / 7);
    const otherWeekday = (weekday + 3) % 7;
    // The nearest weekday to a day ten days away is at most two days from it: never today.
    const farDay = today.day <= 15 ? today.day + 10 : today.day - 10;
    const fires = {
      thisYear: `* * * * * ? ${today.year}`,
      todaysNthWeekday: `* * * ? * ${weekday}#${nth} *`,
    };
    const never = {
      pastYear: "* * * * * ? 2020",
      otherNthWeekday: `* * * ? * ${otherWeekday}#${nth} *`,
      otherLastWeekday: `* * * ? * ${otherWeekday}L *`,
      farNearestWeekday: `* * * ${farDay}W * ? *`,
    };
    const recorded = (runs = recordRuns());
    scheduler = startScheduler(configOf({ ...fires, ...never }, timezone), (policy) => recorded.fire(policy));

    // Every policy is offered each second's firing: by the time these fired twice, the others were offered too.
    await recorded.until("each matching policy runs twice", () => Object.keys(fires).every((policy) => recorded.of(policy).started >= 2));
    expect(Object.keys(never).map((policy) => [policy, recorded.of(policy).started])).toEqual(Object.keys(never).map((policy) => [policy, 0]));
  });
});
