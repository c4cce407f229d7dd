import { sleep as realSleep, type Deadline } from "../clock.ts";
import type { Policy } from "../config/schema.ts";
import type { CsipClient, Models } from "../csip/client.ts";
import { isAmbiguousWrite } from "../csip/retryable.ts";
import { CloudApiError, errorFacts } from "../errors.ts";
import { backoffMs, type RetryPolicy } from "../retry.ts";
import type { RunNames } from "../state/keys.ts";
import { requestSize, type PlannedTask, type ScanTaskRequest } from "./requests.ts";

export interface CreatedTask {
  chunk: number;
  taskId: string;
  taskName: string;
  requestId: string;
  assets: number;
  /** True when an earlier invocation had created it (found by its name, or in the state store). */
  reused?: boolean;
}

export interface TaskFailure {
  chunk: number;
  code: string;
  requestId?: string;
  message: string;
}

/** What a run of one policy has done about its tasks so far, kept in the state store between attempts. */
export interface TaskProgress {
  /** Tasks by chunk number. */
  tasks: Record<string, CreatedTask>;
  /** Chunks that ended without a task on purpose (every asset unauthorized, or notify-only). */
  chunksWithoutTask: number[];
  /** Values CSIP listed in UnAuthAsset. */
  unauthorized: string[];
  /** Warnings about chunks, so that a retry reports what the first attempt saw. */
  warnings: string[];
}

export function noTaskProgress(): TaskProgress {
  return { tasks: {}, chunksWithoutTask: [], unauthorized: [], warnings: [] };
}

export interface TaskOutcome {
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
 * The tasks CSIP already has whose names contain `fragment` (a run's task prefix, or one name), by exact name. CSIP has no idempotency
 * token, so the deterministic TaskName is how a retried invocation recognises its own tasks. The
 * filter field `TaskName` and "contains" (OperatorType 9) are assumptions (local/emulator/ASSUMPTIONS.md).
 */
export async function findTasksByName(csip: CsipClient, fragment: string): Promise<Map<string, Models.ScanTaskInfoList>> {
  const found = new Map<string, Models.ScanTaskInfoList>();
  const limit = 100;
  for (let offset = 0; offset < 10_000; offset += limit) {
    const page = await csip.call("DescribeScanTaskList", {
      Filter: { Limit: limit, Offset: offset, Filters: [{ Name: "TaskName", Values: [fragment], OperatorType: 9 }] },
    });
    for (const task of page.Data ?? []) {
      if (task.TaskId && task.TaskName?.includes(fragment)) found.set(task.TaskName, task);
    }
    if ((page.Data?.length ?? 0) < limit || offset + limit >= (page.TotalCount ?? 0)) break;
  }
  return found;
}

/**
 * Creates each planned task at most once. A write is retried directly only on RequestLimitExceeded
 * (by the client); after a failure that may have reached CSIP (timeout, network error, InternalError,
 * 5xx) the task is looked up by name and created only if it is not there. Tasks found under their
 * names, or remembered in the record, are reused. One failing chunk does not stop the others.
 *
 * When CSIP answers Status -1 it lists the unauthorized assets; with `unauthorized: scan-authorized`
 * and no task created, the chunk is submitted once more without them.
 */
export async function createScanTasks(ctx: TaskCreation, planned: readonly PlannedTask[]): Promise<TaskOutcome> {
  const { csip, policy, progress } = ctx;
  const sleep = ctx.sleep ?? realSleep;
  const outcome: TaskOutcome = { created: [], unauthorized: [...progress.unauthorized], failures: [], warnings: progress.warnings };
  const recordRefused = (values: readonly string[] | undefined): void => {
    for (const value of values ?? []) if (!outcome.unauthorized.includes(value)) outcome.unauthorized.push(value);
    progress.unauthorized = [...outcome.unauthorized];
  };
  const saveTask = async (task: CreatedTask): Promise<void> => {
    progress.tasks[String(task.chunk)] = task;
    outcome.created.push(task);
    await ctx.save();
  };
  const saveChunkWithoutTask = async (chunk: number, warning: string): Promise<void> => {
    outcome.warnings.push(warning);
    progress.chunksWithoutTask.push(chunk);
    await ctx.save();
  };

  const todo = planned.filter((p) => !progress.tasks[String(p.chunk)] && !progress.chunksWithoutTask.includes(p.chunk));
  for (const p of planned) {
    const known = progress.tasks[String(p.chunk)];
    if (known) outcome.created.push({ ...known, reused: true });
  }
  let existing = new Map<string, Models.ScanTaskInfoList>();
  if (todo.length > 0) {
    try {
      existing = await findTasksByName(csip, ctx.names.taskPrefix);
    } catch (error) {
      for (const { chunk } of todo) outcome.failures.push(failure(chunk, error, "could not check for an existing task"));
      return outcome;
    }
  }

  /** Submits once; after an ambiguous failure, looks for the task before submitting again. */
  const submit = async (request: ScanTaskRequest): Promise<Models.CreateRiskCenterScanTaskResponse> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await csip.call("CreateRiskCenterScanTask", request);
      } catch (error) {
        if (!(error instanceof CloudApiError) || !isAmbiguousWrite(error.code)) throw error;
        // Look even after the last attempt: giving up without looking could leave a task we made
        // unrecorded, and the next invocation would make it again.
        const wait = Math.max(backoffMs(ctx.retry, attempt - 1), error.code === "Timeout" ? ctx.requestTimeoutMs : 0);
        if (ctx.deadline && ctx.deadline.remainingMs() <= wait) throw error;
        await sleep(wait);
        const found = (await findTasksByName(csip, request.TaskName)).get(request.TaskName);
        if (found?.TaskId) return { TaskId: found.TaskId, Status: 0, UnAuthAsset: [], RequestId: "" };
        if (attempt >= ctx.retry.attempts) throw error;
      }
    }
  };

  for (const { chunk, request } of todo) {
    const already = existing.get(request.TaskName);
    if (already?.TaskId) {
      await saveTask({ chunk, taskId: already.TaskId, taskName: request.TaskName, requestId: "", assets: already.AssetNumber ?? requestSize(request), reused: true });
      continue;
    }
    if (ctx.deadline?.expired()) {
      outcome.failures.push({ chunk, code: "OutOfTime", message: "not submitted: the function's time ran out" });
      continue;
    }
    try {
      const first = await submit(request);
      recordRefused(first.UnAuthAsset);
      let answer = first;
      let submitted = request;
      const refused = first.UnAuthAsset ?? [];
      if (!first.TaskId && first.Status === -1 && refused.length > 0 && policy.unauthorized === "scan-authorized") {
        const rest = withoutAssets(request, refused);
        if (!rest) {
          await saveChunkWithoutTask(chunk, `chunk ${chunk}: every asset is unauthorized, so no task was created`);
          continue;
        }
        submitted = rest;
        answer = await submit(rest);
        recordRefused(answer.UnAuthAsset);
      }
      if (answer.TaskId) {
        const refusedHere = answer.UnAuthAsset ?? [];
        await saveTask({
          chunk,
          taskId: answer.TaskId,
          taskName: request.TaskName,
          requestId: answer.RequestId ?? "",
          assets: requestSize(submitted) - (answer.Status === -1 ? refusedHere.length : 0),
        });
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
      outcome.failures.push(failure(chunk, error));
    }
  }
  outcome.created.sort((a, b) => a.chunk - b.chunk);
  return outcome;
}

function failure(chunk: number, error: unknown, context?: string): TaskFailure {
  const facts = errorFacts(error);
  return { chunk, ...facts, message: context ? `${context}: ${facts.message}` : facts.message };
}
