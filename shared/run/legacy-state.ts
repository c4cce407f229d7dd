import * as z from "zod";
import { describeError } from "../errors.ts";
import { openRuns, trackRun } from "../results/open-runs.ts";
import { OPEN_RUNS, scheduledRunNames, type RunNames } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import type { RunContext } from "./services.ts";

/**
 * State a deployment kept before deployments had a folder and task names of their own: the store's
 * objects directly under the policy file's prefix (`state/`, or the top of `state.path`), tasks named
 * `csip-scan:POLICY:SLOT:N`. This is what local mode still keeps, so the previous version's layout is
 * known exactly. On the first invocation of this version, a deployment takes over what would otherwise be
 * lost at once:
 * - the runs whose results were still to be told are moved into its own open runs, and told there;
 * - a scheduled run whose slot came before that first invocation, and that the deployment has no record
 *   of, starts from the run's record under the old layout and from the tasks CSIP holds under the old
 *   names, so that SCF's retry of an attempt made before the upgrade creates no task twice
 *   (shared/run/policy-run.ts).
 * Histories, comparison baselines, reminders and cooldowns are not moved (docs/deploying.md, "Upgrading").
 */

/** Where a deployment remembers that it took over the previous version's state, and when. */
export const LEGACY_ADOPTED_KEY = "legacy-state/adopted";

const AdoptedSchema = z.object({ at: z.number(), moved: z.number() });

/** The adoption of each store's legacy state, once per process: when the deployment first ran this version. */
const adoptions = new WeakMap<StateStore, Promise<number>>();

/**
 * When the deployment first ran this version, after moving the previous version's open runs into its
 * own once. A failure to read or move them is a warning; the run goes on, and the next invocation tries
 * again.
 */
export function legacyAdoptedAt(run: Pick<RunContext, "store" | "legacyStore" | "clock" | "logger">): Promise<number> | undefined {
  const { legacyStore } = run;
  if (!legacyStore) return undefined;
  let adoption = adoptions.get(run.store);
  if (!adoption) {
    adoption = adopt(run.store, legacyStore, run.clock.now()).catch((error: unknown) => {
      adoptions.delete(run.store);
      run.logger.warn(`the previous version's state (open runs under the old layout) could not be taken over: ${describeError(error)}; trying again at the next invocation`);
      return run.clock.now();
    });
    adoptions.set(run.store, adoption);
  }
  return adoption;
}

async function adopt(store: StateStore, legacy: StateStore, now: number): Promise<number> {
  const known = await store.get(LEGACY_ADOPTED_KEY, AdoptedSchema);
  if (known) return known.at;
  const open = await openRuns(legacy);
  for (const run of open) {
    await trackRun(store, run);
    await legacy.remove(OPEN_RUNS, run.run);
  }
  if (await store.create(LEGACY_ADOPTED_KEY, { at: now, moved: open.length })) return now;
  return (await store.get(LEGACY_ADOPTED_KEY, AdoptedSchema))?.at ?? now;
}

/**
 * The names a scheduled run had under the previous version, when it may have had an attempt then: its
 * slot came before the deployment first ran this version. Undefined otherwise, and without a legacy store.
 */
export async function legacyRunNames(run: Pick<RunContext, "store" | "legacyStore" | "clock" | "logger">, policy: string, slot: Date): Promise<RunNames | undefined> {
  const adoptedAt = legacyAdoptedAt(run);
  if (!adoptedAt) return undefined;
  return slot.getTime() < (await adoptedAt) ? scheduledRunNames(policy, slot) : undefined;
}
