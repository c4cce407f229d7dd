import { GroupMatcher, kindsNeeded, policyGroups } from "../assets/expand.ts";
import type { Walker } from "../assets/inventory.ts";
import type { Asset } from "../assets/kinds.ts";
import type { Config, Policy } from "../config/schema.ts";
import { SCAN_ASSET_TYPE } from "../csip/actions.ts";
import { errorFacts, LeaseLostError, NotFoundError, OutOfTimeError } from "../errors.ts";
import type { RunTrigger } from "../results/model.ts";
import { scanAssetType, TaskPlanner, type PlannedTask, type ScanTaskRequest } from "../scan/requests.ts";
import { scheduledRunNames, type RunNames } from "../state/keys.ts";
import { legacyRunNames } from "./legacy-state.ts";
import { createAndAnnounce, type CreatedAndAnnounced, type WalkFacts } from "./policy-run.ts";
import type { RunContext } from "./services.ts";
import { summarize, type RunSummary } from "./summary.ts";

export interface RunRequest {
  policy: string;
  scheduledTime: Date;
  trigger: RunTrigger;
  dryRun?: boolean;
}

/** The named policy, or a NotFoundError that lists the known names. */
export function findPolicy(config: Config, name: string): Policy {
  const policy = config.policies.find((p) => p.name === name);
  if (!policy) {
    throw new NotFoundError(`unknown policy "${name}" (known: ${config.policies.map((p) => p.name).join(", ")})`);
  }
  return policy;
}

/**
 * A warning when the inventory walk used more than half the time the run had: the tasks and messages
 * still to come may not fit, and the estate has outgrown one invocation (fan out per member account or
 * per policy: the README's sizing table).
 */
export function walkTookTooLong(walkMs: number, budgetMs: number): string | undefined {
  if (!(budgetMs > 0) || walkMs <= budgetMs / 2) return undefined;
  return `the inventory walk took ${(walkMs / 1000).toFixed(0)} s of the ${(budgetMs / 1000).toFixed(0)} s the run had: split the policies over several schedules or member accounts before the walk outgrows the function's timeout`;
}

/** The summary's warning of rows the inventory listed twice in one walk. */
export function repeatedRowsWarning(repeated: number): string {
  return `CSIP's inventory listed ${repeated} asset${repeated === 1 ? "" : "s"} twice during the walk (its list changed while it was read, which shifts the pages after the change): each went into one task; an asset added meanwhile may wait for the next run`;
}

/**
 * The policy's tasks as a walk of the inventory hands them over: each asset is matched against the
 * groups as its page arrives and added to the chunk being filled, and a full chunk is created before the
 * walk reads on, so the walk keeps no asset (only those a group names by an alias wait for its end). A
 * walk that fails part way creates no partial chunk: a retry walks again and fills the same chunks,
 * provided CSIP lists the assets in the same order (local/emulator/ASSUMPTIONS.md).
 */
class PolicyWalk {
  /** Time spent walking, without the time spent creating tasks. */
  walkMs = 0;

  constructor(
    private readonly run: RunContext,
    private readonly policy: Policy,
    private readonly names: RunNames,
    /** The policy's part in the run's walks, said before the run takes its lock. */
    private readonly walker: Walker,
    /** The time the run had, to warn when the walk used more than half of it. */
    private readonly budgetMs: number,
  ) {}

  leave(): void {
    this.walker.leave();
  }

  async walk(create: (task: PlannedTask) => Promise<void>): Promise<WalkFacts> {
    const { run, policy } = this;
    const started = run.clock.now();
    let creatingMs = 0;
    const timed = async (task: PlannedTask): Promise<void> => {
      const at = run.clock.now();
      await create(task);
      creatingMs += run.clock.now() - at;
    };
    const groups = policyGroups(policy);
    const matcher = new GroupMatcher(groups, run.config.assetGroups);
    const planner = new TaskPlanner(policy, this.names.taskName);
    const add = async (asset: Asset): Promise<void> => {
      const full = planner.add(asset);
      if (full) await timed(full);
    };
    let last: PlannedTask[];
    let repeated = 0;
    try {
      ({ repeated } = await this.walker.walk(async (page) => {
        // Reading on would only fill chunks too late to submit: stop, and let the message go out.
        if (run.deadline.expired()) throw new OutOfTimeError(`the function's time ran out during the inventory walk, after ${planner.assets} of the policy's assets; the rest were not read`);
        for (const asset of page) if (matcher.offer(asset)) await add(asset);
      }));
      for (const asset of matcher.end()) await add(asset);
      last = planner.end();
    } catch (error) {
      this.walkMs = run.clock.now() - started - creatingMs;
      // The run's lock passed on (or may have): nothing more is done under it, not even the message.
      if (error instanceof LeaseLostError) throw error;
      return { chunks: planner.chunks, assets: planner.assets, perGroup: matcher.perGroup, warnings: [], errors: [errorFacts(error)] };
    }
    this.walkMs = run.clock.now() - started - creatingMs;
    for (const task of last) await timed(task);
    const empty = planner.type === SCAN_ASSET_TYPE.listed && planner.assets === 0;
    const slow = walkTookTooLong(this.walkMs, this.budgetMs);
    return {
      chunks: planner.chunks,
      assets: planner.assets,
      perGroup: matcher.perGroup,
      warnings: [
        ...matcher.unknown().map((id) => `asset "${id}" is listed in a group but CSIP's inventory does not know it; it was not scanned`),
        ...(empty ? [`targets ${groups.join(", ")} expand to no assets; no task was created`] : []),
        ...(repeated > 0 ? [repeatedRowsWarning(repeated)] : []),
        ...(slow ? [slow] : []),
      ],
      errors: [],
    };
  }
}

/**
 * One scheduled run of one policy: walk the CSIP inventory, creating the policy's scan tasks as its
 * groups fill them, and tell its notifiers about unauthorized assets and failures.
 *
 * Runs of the same policy and scheduled time hold one lock and share one record in the state store, so
 * a repeated delivery or a retry creates no second task, sends no second message of the same content,
 * and redoes only what is missing. Never throws for a cloud failure: failures are in `errors`.
 */
export async function runScheduledScan(run: RunContext, request: RunRequest): Promise<RunSummary> {
  const started = run.clock.now();
  const budgetMs = run.deadline.remainingMs();
  const policy = findPolicy(run.config, request.policy);
  const type = scanAssetType(policy);
  const names = scheduledRunNames(policy.name, request.scheduledTime, run.deployment);
  const scheduledTime = request.scheduledTime.toISOString();
  const dryRun = request.dryRun ?? false;
  // Said before anything is awaited, so that the policies of a timer started together share each read.
  const walker = run.inventory.walker(kindsNeeded(policyGroups(policy), run.config.assetGroups), policy.memberIds);
  const walk = new PolicyWalk(run, policy, names, walker, budgetMs);

  let done: CreatedAndAnnounced | undefined;
  let walked: WalkFacts | undefined;
  const requests: ScanTaskRequest[] = [];
  try {
    if (dryRun) {
      walked = await walk.walk(async (task) => {
        requests.push(task.request);
      });
    } else {
      const legacy = await legacyRunNames(run, policy.name, request.scheduledTime);
      done = await createAndAnnounce(run, policy, names, walk, { scheduledTime, trigger: request.trigger, warnings: [], errors: [] }, legacy);
      walked = done.walked;
    }
  } finally {
    // Not walked (another invocation holds the run, or an earlier one walked it all): the others go on.
    walker.leave();
  }

  return summarize(run.logger, {
    policy: policy.name,
    scheduledTime,
    trigger: request.trigger,
    dryRun,
    scanAssetType: type,
    assetsPerGroup: walked?.perGroup ?? {},
    assets: type === SCAN_ASSET_TYPE.typedIn ? (policy.urls?.length ?? 0) : (walked?.assets ?? 0),
    tasks: done?.tasks ?? [],
    ...(dryRun ? { requests } : {}),
    unauthorized: done?.unauthorized ?? [],
    warnings: [...(walked?.warnings ?? []), ...(done?.warnings ?? [])],
    errors: [...(walked?.errors ?? []), ...(done?.errors ?? [])],
    notifications: done?.notifications ?? [],
    durationsMs: { inventory: walk.walkMs, tasks: done?.durationsMs.tasks ?? 0, notify: done?.durationsMs.notify ?? 0, total: run.clock.now() - started },
  });
}
