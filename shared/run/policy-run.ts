import * as z from "zod";
import { kindsForId, type AssetKind } from "../assets/kinds.ts";
import type { Policy } from "../config/schema.ts";
import { errorFacts } from "../errors.ts";
import { announceRun, NotifyProgressSchema, setHash } from "../notify/announce.ts";
import type { DeliveryResult } from "../notify/deliver.ts";
import type { RunError, RunFacts, UnauthorizedAsset } from "../notify/report.ts";
import { startTaskCreation, TaskProgressSchema, type CreatedTask } from "../scan/create-tasks.ts";
import type { PlannedTask } from "../scan/requests.ts";
import { tasksByName } from "../scan/task-list.ts";
import { trackRun } from "../results/open-runs.ts";
import { parseTaskName, type RunNames } from "../state/keys.ts";
import { PagedRecord, type GrowingFields } from "../state/paged-record.ts";
import type { StateStore } from "../state/store.ts";
import type { RunContext } from "./services.ts";

/**
 * What every run of a policy shares, whatever fired it (a timer or an asset change): creating the
 * planned tasks exactly once under a lock, and telling the notifiers.
 */

/** What a walk of the inventory came to, kept once it ended without error so that a repeat need not walk. */
export const WalkFactsSchema = z.object({
  /** Chunks planned, numbered from 1. */
  chunks: z.number().int(),
  /** Assets in the policy's targets (or its exceptions, for all-except). */
  assets: z.number().int(),
  perGroup: z.record(z.string(), z.number()),
  warnings: z.array(z.string()),
});
export type WalkFacts = z.infer<typeof WalkFactsSchema> & { errors: RunError[] };

/** The record of one policy run in the state store: what its tasks and its notifications have done. */
export const RunRecordSchema = TaskProgressSchema.extend(NotifyProgressSchema.shape).extend({
  /**
   * The tasks put in the open runs whose results are still to be told (shared/results/): a digest of
   * their sorted IDs (records of older versions list the IDs), and when first. Every tracked task stays
   * in `tasks`, which only grows, so the digest says whether the open run lacks one.
   */
  tracked: z.object({ taskIds: z.array(z.string()).optional(), digest: z.string().optional(), at: z.number() }).optional(),
  walked: WalkFactsSchema.optional(),
  /** The run's ID among the open runs when it is not the record's key: the previous version's, whose attempt began the run. */
  openRun: z.string().optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/**
 * What grows in a run's record as it works, kept in pages written once (shared/state/paged-record.ts):
 * a task, its assets' hash and the values CSIP refused per chunk, and each message built. A save then
 * writes the rest of the record and the last entries, whatever the number of chunks.
 */
const RUN_RECORD_GROWS: GrowingFields<RunRecord> = {
  arrays: ["chunksWithoutTask", "unauthorized", "warnings"],
  maps: ["tasks", "chunkAssets", "unauthorizedAssets", "messages"],
};

/** A run's record as kept in the state store, head and pages; `pageBytes` for tests and the bench. */
export function runRecord(store: StateStore, key: string, pageBytes?: number): PagedRecord<RunRecord> {
  return new PagedRecord<RunRecord>(store, key, RunRecordSchema, RUN_RECORD_GROWS, pageBytes);
}

/** A short digest of a set of task IDs, equal for the same IDs in any order. */
export function idsDigest(taskIds: readonly string[]): string {
  return setHash(taskIds).slice(0, 32);
}

/**
 * A run's tasks: planned up front (a few changed assets), or handed over by a walk of the inventory as
 * its chunks fill, so that the walk keeps no asset. `walk` calls `create` for each chunk in chunk order
 * and waits for it.
 */
export type TaskSource =
  | readonly PlannedTask[]
  | {
      walk(create: (task: PlannedTask) => Promise<void>): Promise<WalkFacts>;
      /** Called instead of `walk` when an earlier attempt walked it all: others need not wait for this one. */
      leave(): void;
    };

/** What creating and announcing did. */
export interface CreatedAndAnnounced {
  /** What the walk found (from the record when an earlier attempt's walk ended and every chunk is done). */
  walked?: WalkFacts;
  tasks: CreatedTask[];
  /** Chunks whose task an earlier attempt made for other assets than this attempt planned in them. */
  refilledOtherwise: number[];
  unauthorized: UnauthorizedAsset[];
  warnings: string[];
  errors: RunError[];
  notifications: DeliveryResult[];
  durationsMs: { tasks: number; notify: number };
}

/** What the run knew before creating tasks: when, why, and what went wrong already. */
export interface RunSoFar {
  scheduledTime: string;
  trigger: RunFacts["trigger"];
  warnings: readonly string[];
  errors: readonly RunError[];
}

/**
 * Creates the planned tasks and notifies, holding the lock of the run and keeping its record under
 * it, so that a repeated delivery or a retry creates no second task, sends each notifier its message
 * once (the message first built, stored before it is sent), and redoes only what is missing.
 */
export async function createAndAnnounce(
  run: RunContext,
  policy: Policy,
  names: RunNames,
  source: TaskSource,
  soFar: RunSoFar,
  /** The run's names under the previous version, when an attempt of it may have been made then (shared/run/legacy-state.ts). */
  legacy?: RunNames,
): Promise<CreatedAndAnnounced> {
  const result: CreatedAndAnnounced = { tasks: [], refilledOtherwise: [], unauthorized: [], warnings: [], errors: [], notifications: [], durationsMs: { tasks: 0, notify: 0 } };
  const key = names.recordKey;
  try {
    await run.store.withLock(key, { waitMs: run.deadline.remainingMs() }, async () => {
      const stored = runRecord(run.store, key, run.recordPageBytes);
      const record = (await stored.load()) ?? (legacy && (await previousVersionRun(run, policy, legacy))) ?? RunRecordSchema.parse({});
      const save = (): Promise<void> => stored.save(record);

      const creation = startTaskCreation({
        csip: run.csip,
        policy,
        names,
        progress: record,
        save,
        retry: run.retry,
        requestTimeoutMs: run.requestTimeoutMs,
        deadline: run.deadline,
        sleep: run.clock.sleep,
      });
      const create = async (task: PlannedTask): Promise<void> => {
        const started = run.clock.now();
        await creation.create(task);
        result.durationsMs.tasks += run.clock.now() - started;
      };
      if (!("walk" in source)) {
        for (const task of source) await create(task);
      } else if (record.walked && chunkNumbers(record.walked.chunks).every(creation.doneBefore)) {
        // An earlier attempt walked to the end and dealt with every chunk: nothing to walk for.
        source.leave();
        result.walked = { ...record.walked, errors: [] };
      } else {
        // What an earlier walk found no longer holds once this one starts: were it to fail part way, a
        // later attempt must walk again, not trust an older and maybe shorter count of chunks.
        if (record.walked) {
          delete record.walked;
          await save();
        }
        result.walked = await source.walk(create);
        // Chunks an earlier attempt filled otherwise, or (a walk to the end) did not fill again: the
        // estate changed between attempts. The earlier tasks stay the run's; the summary says so.
        const { refilledOtherwise, notFilled } = creation.differences();
        const changed = estateChanged(refilledOtherwise, result.walked.errors.length === 0 ? notFilled : []);
        if (changed && !record.warnings.includes(changed)) record.warnings.push(changed);
        if (result.walked.errors.length === 0) {
          const { errors: _errors, ...facts } = result.walked;
          record.walked = facts;
          await save();
        }
      }
      result.refilledOtherwise = creation.differences().refilledOtherwise;
      const outcome = creation.end();
      result.tasks = outcome.created;
      result.warnings = outcome.warnings;
      result.errors = outcome.failures.map((f) => ({ code: f.code, ...(f.requestId ? { requestId: f.requestId } : {}), message: `chunk ${f.chunk}: ${f.message}` }));
      result.unauthorized = outcome.unauthorized.map((value) => describeUnauthorized(value, record.unauthorizedAssets[value], policy));
      // A retry that made the missing tasks adds them; `giveUpAfter` still counts from the first. No
      // attempt drops a task an earlier one tracked: its results are still to be told.
      const taskIds = [...new Set([...result.tasks.map((t) => t.taskId), ...(record.tracked?.taskIds ?? [])])];
      const digest = idsDigest(taskIds);
      if (taskIds.length > 0 && record.tracked?.digest !== digest) {
        const at = record.tracked?.at ?? run.clock.now();
        await trackRun(run.store, {
          run: record.openRun ?? key,
          policy: policy.name,
          trigger: soFar.trigger,
          scheduledTime: soFar.scheduledTime,
          taskIds,
          createdAt: at,
          ...(policy.memberIds?.length ? { memberIds: [...policy.memberIds] } : {}),
        });
        record.tracked = { digest, at };
        await save();
      }

      const notifyStarted = run.clock.now();
      const facts: RunFacts = {
        policy: policy.name,
        trigger: soFar.trigger,
        scheduledTime: soFar.scheduledTime,
        unauthorized: result.unauthorized,
        tasks: result.tasks,
        warnings: [...soFar.warnings, ...(result.walked?.warnings ?? []), ...result.warnings],
        errors: [...soFar.errors, ...(result.walked?.errors ?? []), ...result.errors],
      };
      const announced = await announceRun({ store: run.store, deliver: run.deliver, notifiers: run.config.notifiers, now: run.clock.now }, policy, facts, {
        run: key,
        progress: record,
        save: (progress) => {
          Object.assign(record, progress);
          return save();
        },
      });
      Object.assign(record, announced.progress);
      result.notifications = announced.deliveries;
      result.durationsMs.notify = run.clock.now() - notifyStarted;
      await save();
    });
  } catch (error) {
    result.errors.push(errorFacts(error));
  }
  return result;
}

/**
 * What an attempt of the previous version did of this run: its record, under the old layout, and the tasks
 * CSIP holds under the old names that the record lacks (made just before that attempt stopped). The run
 * goes on from there, under its new record, and stays the previous version's among the open runs, where
 * that version put it; undefined when that version left nothing of the run.
 */
async function previousVersionRun(run: RunContext, policy: Policy, legacy: RunNames): Promise<RunRecord | undefined> {
  const kept = run.legacyStore ? await runRecord(run.legacyStore, legacy.recordKey).load() : undefined;
  const record = kept ?? RunRecordSchema.parse({});
  let found = 0;
  for (const [name, tasks] of await tasksByName(run.csip, legacy.taskPrefix, policy.memberIds)) {
    const chunk = name.startsWith(legacy.taskPrefix) ? parseTaskName(name)?.chunk : undefined;
    const oldest = tasks[0];
    if (chunk === undefined || record.tasks[String(chunk)] || !oldest?.TaskId) continue;
    record.tasks[String(chunk)] = { chunk, taskId: oldest.TaskId, taskName: name, requestId: "", assets: oldest.AssetNumber ?? 0, reused: true };
    found++;
  }
  if (!kept && found === 0) return undefined;
  return { ...record, openRun: legacy.recordKey };
}

/**
 * The summary's warning when a walk's chunks are not an earlier attempt's: some it filled with other
 * assets, or some with an earlier task it did not fill again (the estate shrank or shifted), or undefined.
 */
function estateChanged(refilledOtherwise: readonly number[], notFilled: readonly number[]): string | undefined {
  if (refilledOtherwise.length === 0 && notFilled.length === 0) return undefined;
  const said = [
    ...(notFilled.length > 0 ? [`chunk(s) ${notFilled.join(", ")} of an earlier attempt were not filled again`] : []),
    ...(refilledOtherwise.length > 0 ? [`chunk(s) ${refilledOtherwise.join(", ")} now hold other assets than their tasks`] : []),
  ];
  return `the estate changed between attempts of this run: ${said.join("; ")}. The earlier tasks are kept and followed, and only chunks without a task were created: some assets may be scanned twice, or not until the next run`;
}

/** Chunk numbers 1 to `chunks`. */
function chunkNumbers(chunks: number): number[] {
  return Array.from({ length: chunks }, (_, i) => i + 1);
}

/** An unauthorized value as people read it: the name and kind its chunk knew, else what its form says. */
function describeUnauthorized(value: string, known: RunRecord["unauthorizedAssets"][string] | undefined, policy: Policy): UnauthorizedAsset {
  const memberId = known?.memberId ?? (policy.memberIds?.length === 1 ? policy.memberIds[0] : undefined);
  return {
    id: value,
    name: known?.name ?? value,
    kind: (known?.kind as AssetKind | undefined) ?? (policy.urls ? "url" : kindsForId(value)[0]!),
    region: known?.region ?? "",
    ...(memberId ? { memberId } : {}),
  };
}
