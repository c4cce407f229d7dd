import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CrashWorld, type CrashFunction, type KillPoint, type Reference, type StoreKind } from "../crash-harness.ts";

// Crash points, a few of each function on each store: the bundle SCF runs, in a process of its own,
// killed with SIGKILL at a named request to CSIP, COS or a notifier, then SCF's retry. Every invariant of
// test/crash-harness.ts must hold. Points are named by what they are, not by number, so they stay put
// when requests are added elsewhere; what is killed does not depend on the machine's speed. Every point
// of every function: `npm run bench crash-points` (figures in docs/reliability-and-security.md).

let world: CrashWorld;
const references = new Map<string, Promise<Reference>>();

beforeAll(async () => {
  world = await CrashWorld.start();
}, 180_000);
afterAll(() => world?.close());

/** The uncrashed run of a function on a store, run once: what every case of it is checked against. */
function reference(fn: CrashFunction, store: StoreKind): Promise<Reference> {
  const key = `${fn} ${store}`;
  let known = references.get(key);
  if (!known) {
    known = world.reference(fn, store).then((r) => {
      expect(r.result.violations).toEqual([]);
      return r;
    });
    references.set(key, known);
  }
  return known;
}

const POINTS: [CrashFunction, StoreKind, string, KillPoint][] = [
  ["scheduled-scan", "cos", "after it created its lease, the answer lost", { when: "after", label: /^COS PUT locks\/run\/.*\/1\.json$/ }],
  ["scheduled-scan", "cos", "before the fence's look after the third save", { when: "before", label: /^COS HEAD locks\/run\/.*\/2\.json$/, occurrence: 3 }],
  ["scan-results", "folder", "before it asked for the report links", { when: "before", label: /^CSIP DescribeTaskLogURL$/ }],
  ["scan-results", "cos", "after it stored the results message, the answer lost", { when: "after", label: /^COS PUT results\/run\/.*@1\.json$/ }],
  ["scan-results", "cos", "after it took the history lock inside the results lock", { when: "after", label: /^COS PUT locks\/results-history\/nightly\/1\.json$/ }],
  ["asset-change", "folder", "after the webhook took the message, its answer lost", { when: "after", label: /^notifier hook whole$/ }],
  ["asset-change", "cos", "after the first cooldown was written", { when: "after", label: /^COS PUT cooldown\// }],
  ["asset-change", "cos", "before its first create", { when: "before", label: /^CSIP CreateRiskCenterScanTask$/ }],
];

describe("crash points", () => {
  it.each(POINTS)("%s on the %s store, killed %s: every invariant holds after SCF's retry", { timeout: 180_000 }, async (fn, store, _, point) => {
    const result = await world.crash(await reference(fn, store), point);
    expect(result.killed).toMatchObject({ when: point.when });
    expect(`${result.killed!.upstream} ${result.killed!.label}`).toMatch("label" in point ? point.label : /./);
    expect(result.violations).toEqual([]);
  });

  it("a notifier whose answer to part 2 was lost gets part 2 twice, under one webhook-id, and every other part once", { timeout: 180_000 }, async () => {
    const result = await world.crash(await reference("scheduled-scan", "folder"), { when: "after", label: /^notifier robot 2\/3$/ });
    const robot = result.received.filter((r) => r.notifier === "robot");
    expect(robot.map((r) => [r.label, r.byAttempt])).toEqual([
      ["1/3", true],
      ["2/3", true],
      ["2/3", false],
      ["3/3", false],
    ]);
    expect(robot[2]!.webhookId).toBe(robot[1]!.webhookId);
    expect(result.violations).toEqual([]);
  });

  // Found by the harness: a chunk whose first create CSIP answered Status -1 is submitted again without
  // the refused assets; a kill after that second create made the task (its answer lost) left the retry to
  // find the task by its name, never learning what CSIP had refused in that chunk: the message named 40
  // of the 60 unauthorized assets. The refusals are now saved before the chunk goes on.
  it.each<StoreKind>(["folder", "cos"])(
    "on the %s store, a kill after the create that made a chunk's task, whose first create CSIP refused in part: the retry's message names every unauthorized asset",
    { timeout: 180_000 },
    async (store) => {
      const result = await world.crash(await reference("scheduled-scan", store), { when: "after", label: /^CSIP CreateRiskCenterScanTask$/, occurrence: 2 });
      expect(result.killed).toMatchObject({ upstream: "CSIP", label: "CreateRiskCenterScanTask", when: "after" });
      const hook = result.received.filter((r) => r.notifier === "hook");
      expect(hook).toHaveLength(1);
      expect((JSON.parse(hook[0]!.body) as { unauthorizedAssets: unknown[] }).unauthorizedAssets).toHaveLength(60);
      expect(result.violations).toEqual([]);
    },
  );

  // Found by the harness: a results look took its run's lock without waiting, so SCF's retry of a look
  // killed while telling found the dead look's lease live, returned ok and left the rest of the message
  // to the next look, `checkEvery` later. A look now waits up to a lease (and a look) for the lock.
  it("a results look killed after a notifier took part 1 of 3: SCF's retry, at once, waits out the lease and sends the rest itself", { timeout: 180_000 }, async () => {
    const result = await world.crash(await reference("scan-results", "cos"), { when: "after", label: /^notifier robot 1\/3$/ });
    // Part 1's answer died with the process: the retry sends it again, then parts 2 and 3.
    expect(result.received.filter((r) => r.notifier === "robot").map((r) => [r.label, r.byAttempt])).toEqual([
      ["1/3", true],
      ["1/3", false],
      ["2/3", false],
      ["3/3", false],
    ]);
    expect(result.outcome).toBe("killed; retry 1 ok; the next look had nothing to tell");
    expect(result.violations).toEqual([]);
  });
});
