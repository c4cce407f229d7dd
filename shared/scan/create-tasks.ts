import { createHash } from "node:crypto";
import * as z from "zod";
import { sleep as realSleep, type Deadline } from "../clock.ts";
import type { Asset } from "../assets/kinds.ts";
import type { Policy } from "../config/schema.ts";
import type { CsipClient, Models } from "../csip/client.ts";
import { isAmbiguousWrite } from "../csip/retryable.ts";
import { CloudApiError, errorFacts, LeaseLostError } from "../errors.ts";
import { backoffMs, type RetryPolicy } from "../retry.ts";
import type { RunNames } from "../state/keys.ts";
import { requestSize, type PlannedTask, type ScanTaskRequest } from "./requests.ts";
import { describeRemoval, keepOldest, tasksByName, type ListedTask } from "./task-list.ts";

export const CreatedTaskSchema = z.object({
  chunk: z.number().int(),
  taskId: z.string(),
  taskName: z.string(),
  requestId: z.string(),
  assets: z.number(),
  /** True when an earlier invocation had created it (found by its name, or in the state store). */
  reused: z.boolean().optional(),
});
export type CreatedTask = z.infer<typeof CreatedTaskSchema>;

export interface TaskFailure {
  chunk: number;
  code: string;
  requestId?: string;
  message: string;
}

/**
 * What a run of one policy has done about its tasks so far, kept in the state store between attempts.
 * Read back through this schema: a record of another shape is a fresh start, not a crash.
 */
export const TaskProgressSchema = z.object({
  /** Tasks by chunk number. */
  tasks: z.record(z.string(), CreatedTaskSchema).default({}),
  /** Chunks that ended without a task on purpose (every asset unauthorized, or notify-only). */
  chunksWithoutTask: z.array(z.number().int()).default([]),
  /** Values CSIP listed in UnAuthAsset. */
  unauthorized: z.array(z.string()).default([]),
  /** What the chunk a value was refused in knew of its asset, by value: the walk keeps no asset. */
  unauthorizedAssets: z.record(z.string(), z.object({ name: z.string(), kind: z.string(), region: z.string(), memberId: z.string().optional() })).default({}),
  /** Warnings about chunks, so that a retry reports what the first attempt saw. */
  warnings: z.array(z.string()).default([]),
  /**
   * Per chunk with a task, a short hash of the assets its request named: a later attempt that fills the
   * chunk with other assets (the estate changed between attempts) sees it.
   */
  chunkAssets: z.record(z.string(), z.string()).default({}),
});
export type TaskProgress = z.infer<typeof TaskProgressSchema>;

export interface TaskOutcome {
  /** Every task of the run, this attempt's and every earlier one's, in chunk order. */
  created: CreatedTask[];
  /** Values CSIP listed in UnAuthAsset (asset IDs, addresses, domains or URLs), without duplicates. */
  unauthorized: string[];
  failures: TaskFailure[];
  warnings: string[];
}

export interface TaskCreation {
  /** A client that limits its rate and retries reads (see shared/csip/resilient-client.ts). */
  csip: CsipClient;
  policy: Policy;
  names: RunNames;
  /** What earlier attempts of the same run did; updated in place as chunks are done. */
  progress: TaskProgress;
  /** Persists the progress; called after every chunk, so a retry redoes only what is missing. */
  save: () => Promise<void>;
  retry: RetryPolicy;
  /** How long a request may take; after a timeout, CSIP gets as long again before the task is looked up. */
  requestTimeoutMs: number;
  deadline?: Deadline;
  sleep?: (ms: number) => Promise<void>;
}

/** The request without the assets CSIP refused, or undefined when nothing is left to scan. */
export function withoutAssets(request: ScanTaskRequest, refused: readonly string[]): ScanTaskRequest | undefined {
  const keep = (value: string | undefined): boolean => !refused.includes(value ?? "");
  if (request.Assets) {
    const assets = request.Assets.filter((a) => keep(a.Asset));
    return assets.length > 0 ? { ...request, Assets: assets } : undefined;
  }
  if (request.SelfDefiningAssets) {
    const own = request.SelfDefiningAssets.filter(keep);
    return own.length > 0 ? { ...request, SelfDefiningAssets: own } : undefined;
  }
  return undefined;
}

/**
 * What a submission came to: CSIP's answer, or the tasks found under the name after an ambiguous
 * failure. `afterAmbiguity`: a create was sent that may still land, so the name is looked up once more.
 */
type Submitted = { answer: Models.CreateRiskCenterScanTaskResponse; afterAmbiguity: boolean } | { found: ListedTask[]; afterAmbiguity: boolean };

/**
 * Creates each planned task at most once. A write is retried directly only on RequestLimitExceeded
 * (by the client). After a failure that may have reached CSIP (timeout, network error, InternalError,
 * 5xx, an answer that is not JSON) CSIP gets one request timeout to finish, then the task is looked up
 * by name and created only if it is not there; and after a create that followed such a failure, the
 * name is looked up once more, since a create that landed late makes a second task: then the oldest is
 * kept and the others are stopped and deleted, and the summary says so. Tasks found under their names,
 * or remembered in the record, are reused. One failing chunk does not stop the others.
 *
 * When CSIP answers Status -1 it lists the unauthorized assets. Whether it made a task for the others
 * is undocumented, so the name is looked up first; with `unauthorized: scan-authorized` and no task
 * there, the chunk is submitted once more without them.
 */
export async function createScanTasks(ctx: TaskCreation, planned: readonly PlannedTask[]): Promise<TaskOutcome> {
  const creation = startTaskCreation(ctx);
  for (const p of planned) await creation.create(p);
  return creation.end();
}

/** Creating a run's tasks chunk by chunk, as a walk fills them: `create` each in chunk order, then `end`. */
export interface TaskCreationRun {
  create(planned: PlannedTask): Promise<void>;
  /** Whether an earlier attempt dealt with the chunk (a task, or none on purpose). */
  doneBefore(chunk: number): boolean;
  /**
   * How this attempt's chunks differ from an earlier attempt's: chunks it filled with other assets than
   * their task names, and chunks an earlier attempt made a task for that it did not fill (yet).
   */
  differences(): { refilledOtherwise: number[]; notFilled: number[] };
  /**
   * What was created, refused and failed. The tasks are every task the run ever made, in chunk order:
   * one an earlier attempt made is kept and followed even where this attempt's chunks no longer hold it.
   */
  end(): TaskOutcome;
}

/** A short hash of the assets a request names: equal for the same assets in any order. */
function requestAssetsHash(request: ScanTaskRequest): string {
  const values = [...(request.Assets ?? []).map((a) => `${a.Asset ?? ""}@${a.Region ?? ""}`), ...(request.SelfDefiningAssets ?? [])].sort();
  return createHash("sha256").update(values.join("\n")).digest("hex").slice(0, 16);
}

/** Starts creating a run's tasks; see createScanTasks for how each is made at most once. */
export function startTaskCreation(ctx: TaskCreation): TaskCreationRun {
  const { csip, policy, progress } = ctx;
  const sleep = ctx.sleep ?? realSleep;
  const outcome: TaskOutcome = { created: [], unauthorized: [...progress.unauthorized], failures: [], warnings: progress.warnings };
  const refused = new Set(outcome.unauthorized);
  /** Keeps the values CSIP refused with what the chunk knew of them: true when one was new. */
  const recordRefused = (values: readonly string[] | undefined, assets: readonly Asset[]): boolean => {
    const before = refused.size;
    for (const value of values ?? []) {
      if (refused.has(value)) continue;
      refused.add(value);
      outcome.unauthorized.push(value);
      const asset = assets.find((a) => a.id === value || a.aliases.includes(value));
      if (asset) progress.unauthorizedAssets[value] = { name: asset.name, kind: asset.kind, region: asset.region, ...(asset.memberId ? { memberId: asset.memberId } : {}) };
    }
    progress.unauthorized = [...outcome.unauthorized];
    return refused.size > before;
  };
  /** Chunks this attempt offered, and those whose assets differ from what their earlier task named. */
  const offered = new Set<number>();
  /** Chunks whose task is in `outcome.created`. */
  const counted = new Set<number>();
  const refilledOtherwise: number[] = [];
  const saveTask = async (task: CreatedTask, planned: ScanTaskRequest): Promise<void> => {
    progress.tasks[String(task.chunk)] = task;
    progress.chunkAssets[String(task.chunk)] = requestAssetsHash(planned);
    counted.add(task.chunk);
    outcome.created.push(task);
    await ctx.save();
  };
  const saveChunkWithoutTask = async (chunk: number, warning: string): Promise<void> => {
    outcome.warnings.push(warning);
    progress.chunksWithoutTask.push(chunk);
    await ctx.save();
  };
  /** Waits one request timeout if the deadline allows: CSIP may still be finishing a create. */
  const waitForLateCreate = async (extraMs = 0): Promise<boolean> => {
    const wait = Math.max(extraMs, ctx.requestTimeoutMs);
    if (ctx.deadline && ctx.deadline.remainingMs() <= wait) return false;
    await sleep(wait);
    return true;
  };
  const lookUp = async (name: string): Promise<ListedTask[]> => (await tasksByName(csip, name, policy.memberIds)).get(name) ?? [];
  /** The one task of a name: the oldest, the others stopped and deleted, and a warning that says so. */
  const oneOf = async (chunk: number, name: string, tasks: readonly ListedTask[]): Promise<ListedTask> => {
    if (tasks.length === 1) return tasks[0]!;
    const { kept, removed, failed } = await keepOldest(csip, tasks, policy.memberIds);
    outcome.warnings.push(`chunk ${chunk}: ${describeRemoval({ taskName: name, kept: kept.TaskId!, removed, failed })}`);
    return kept;
  };
  const adopt = async (chunk: number, request: ScanTaskRequest, tasks: readonly ListedTask[], planned: ScanTaskRequest): Promise<void> => {
    const task = await oneOf(chunk, request.TaskName, tasks);
    await saveTask({ chunk, taskId: task.TaskId!, taskName: request.TaskName, requestId: "", assets: task.AssetNumber ?? requestSize(request), reused: true }, planned);
  };

  /** Submits once; after an ambiguous failure, waits, then looks for the task before submitting again. */
  const submit = async (request: ScanTaskRequest): Promise<Submitted> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return { answer: await csip.call("CreateRiskCenterScanTask", request), afterAmbiguity: attempt > 1 };
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        if (!(error instanceof CloudApiError) || !isAmbiguousWrite(error.code)) {
          // A refusal after an ambiguous attempt: that attempt may still land. Look once more, a
          // request timeout later, or the next invocation may look too early and make a second task.
          if (attempt > 1 && (await waitForLateCreate())) {
            const found = await lookUp(request.TaskName);
            if (found.length > 0) return { found, afterAmbiguity: true };
          }
          throw error;
        }
        // Look even after the last attempt: giving up without looking could leave a task we made
        // unrecorded, and the next invocation would make it again.
        if (!(await waitForLateCreate(backoffMs(ctx.retry, attempt - 1)))) throw error;
        const found = await lookUp(request.TaskName);
        // Found after the second ambiguous create: the other may still land.
        if (found.length > 0) return { found, afterAmbiguity: attempt > 1 };
        if (attempt >= ctx.retry.attempts) throw error;
      }
    }
  };

  /** CSIP's tasks under the run's names, read once before the first chunk to create. */
  let existing: Promise<Map<string, ListedTask[]>> | undefined;

  const doneBefore = (chunk: number): boolean => progress.tasks[String(chunk)] !== undefined || progress.chunksWithoutTask.includes(chunk);
  const reuse = (chunk: number): void => {
    const known = progress.tasks[String(chunk)];
    if (!known || counted.has(chunk)) return;
    counted.add(chunk);
    outcome.created.push({ ...known, reused: true });
  };

  const create = async ({ chunk, request, assets }: PlannedTask): Promise<void> => {
    offered.add(chunk);
    if (doneBefore(chunk)) {
      const before = progress.chunkAssets[String(chunk)];
      if (before !== undefined && before !== requestAssetsHash(request)) refilledOtherwise.push(chunk);
      reuse(chunk);
      return;
    }
    existing ??= tasksByName(csip, ctx.names.taskPrefix, policy.memberIds);
    let already: ListedTask[] | undefined;
    try {
      already = (await existing).get(request.TaskName);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      outcome.failures.push(failure(chunk, error, "could not check for an existing task"));
      return;
    }
    if (already?.length) {
      await adopt(chunk, request, already, request);
      return;
    }
    if (ctx.deadline?.expired()) {
      outcome.failures.push({ chunk, code: "OutOfTime", message: "not submitted: the function's time ran out" });
      return;
    }
    try {
      let submitted = request;
      let result = await submit(request);
      // Kept before the chunk goes on: a retry after a crash that finds the task made next (by its name)
      // learns what CSIP refused here from the record alone, and the message must name it.
      if ("answer" in result && recordRefused(result.answer.UnAuthAsset, assets)) await ctx.save();
      if ("answer" in result && !result.answer.TaskId && result.answer.Status === -1 && (result.answer.UnAuthAsset ?? []).length > 0) {
        // CSIP may have made a task for the authorized assets without naming it: look before anything else.
        const made = await lookUp(request.TaskName);
        if (made.length > 0) {
          result = { found: made, afterAmbiguity: result.afterAmbiguity };
        } else if (policy.unauthorized === "scan-authorized") {
          const rest = withoutAssets(request, result.answer.UnAuthAsset ?? []);
          if (!rest) {
            await saveChunkWithoutTask(chunk, `chunk ${chunk}: every asset is unauthorized, so no task was created`);
            return;
          }
          submitted = rest;
          result = await submit(rest);
          if ("answer" in result) recordRefused(result.answer.UnAuthAsset, assets);
        }
      }
      if ("found" in result) {
        let found = result.found;
        if (result.afterAmbiguity && (await waitForLateCreate())) found = await lookUp(request.TaskName);
        await adopt(chunk, submitted, found.length > 0 ? found : result.found, request);
        return;
      }
      const { answer, afterAmbiguity } = result;
      if (answer.TaskId) {
        let taskId = answer.TaskId;
        // A create after an ambiguous failure: the first one may still land. Look once more.
        if (afterAmbiguity) {
          await waitForLateCreate();
          const same = await lookUp(request.TaskName);
          if (same.length > 1) taskId = (await oneOf(chunk, request.TaskName, same)).TaskId!;
        }
        const refusedHere = answer.UnAuthAsset ?? [];
        await saveTask(
          {
            chunk,
            taskId,
            taskName: request.TaskName,
            requestId: answer.RequestId ?? "",
            assets: requestSize(submitted) - (answer.Status === -1 ? refusedHere.length : 0),
          },
          request,
        );
      } else if (answer.Status === -1 && policy.unauthorized === "notify-only") {
        await saveChunkWithoutTask(chunk, `chunk ${chunk}: unauthorized assets, so no task was created (unauthorized: notify-only)`);
      } else {
        outcome.failures.push({
          chunk,
          code: `Status${answer.Status ?? "Unknown"}`,
          requestId: answer.RequestId ?? "",
          message: `CSIP created no task (Status ${answer.Status ?? "missing"})`,
        });
      }
    } catch (error) {
      // The run's lock passed on (or may have): the walk ends here, as when the time runs out; the
      // holder that took it carries on from the record.
      if (error instanceof LeaseLostError) throw error;
      outcome.failures.push(failure(chunk, error));
    }
  };

  const earlierTasks = (): number[] => Object.keys(progress.tasks).map(Number);
  return {
    create,
    doneBefore,
    differences: () => ({
      refilledOtherwise: [...refilledOtherwise],
      notFilled: earlierTasks()
        .filter((chunk) => !offered.has(chunk))
        .sort((a, b) => a - b),
    }),
    end: () => {
      // A task no later attempt refilled is still the run's: its results are told, its duplicates swept.
      for (const chunk of earlierTasks()) reuse(chunk);
      outcome.created.sort((a, b) => a.chunk - b.chunk);
      return outcome;
    },
  };
}

function failure(chunk: number, error: unknown, context?: string): TaskFailure {
  const facts = errorFacts(error);
  return { chunk, ...facts, message: context ? `${context}: ${facts.message}` : facts.message };
}
